package ldapsync

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/ldapconn"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
	"github.com/region-nouvelle-aquitaine/idp/ldapsync/directory"
)

// second is a second directory: another slapd, with the same people but
// its own entryUUIDs, and a stricter policy (14 characters).
type second struct {
	s   *testenv.Slapd
	dir *directory.Writer
}

const secondMinLength = 14

func (e *env) startSecond(t *testing.T) *second {
	t.Helper()
	s := testenv.StartSlapd(t, testenv.SlapdOptions{MinLength: secondMinLength})
	dir, err := directory.New(directory.Config{
		Config: ldapconn.Config{URLs: []string{s.URL}, BindDN: s.WriterDN, BindPassword: s.WriterPassword, Timeout: 2 * time.Second},
		BaseDN: s.BaseDN,
	}, e.log)
	if err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	e.secrets = append(e.secrets, s.WriterPassword)
	e.mu.Unlock()
	return &second{s: s, dir: dir}
}

// annuaire and messagerie are the two targets of these tests: the env's
// slapd (12 characters) and the second one (14), found by uid or mail.
func annuaire(w Writer) Target {
	return Target{Name: "annuaire", Label: "l’annuaire des usagers", CheckSubject: true, Writer: w}
}

func messagerie(w Writer, findBy string) Target {
	return Target{Name: "messagerie", Label: "la messagerie des lycées", FindBy: findBy, Writer: w}
}

// targetsWorker is e.worker writing to targets.
func (e *env) targetsWorker(name string, targets []Target, edit func(*Worker)) *Worker {
	return e.worker(name, func(w *Worker) {
		w.Writer, w.Targets = nil, targets
		if edit != nil {
			edit(w)
		}
	})
}

// outcomes is a compact view of targets: "name=state/reason".
func outcomes(ts []job.TargetOutcome) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name + "=" + string(t.State) + "/" + string(t.Reason)
	}
	return out
}

// checkEvent checks the event of job id: its state and targets, and
// that it names neither the login nor the mail.
func (e *env) checkEvent(t *testing.T, id string, state job.State, targets []string) {
	t.Helper()
	for _, m := range e.rdb.XRange(context.Background(), e.q.EventsStream(), "-", "+").Val() {
		ev, err := job.ParseEvent(m)
		if err != nil {
			t.Fatal(err)
		}
		if ev.JobID != id {
			continue
		}
		if ev.State != state || !slices.Equal(outcomes(ev.Targets), targets) {
			t.Errorf("event = %+v, want %s %q", ev, state, targets)
		}
		if v := stringValues(m.Values); strings.Contains(v, "@example.org") || strings.Contains(v, "uid=") {
			t.Errorf("the event names the person: %s", v)
		}
		return
	}
	t.Errorf("no event for job %s", id)
}

// TestTargets writes each change to two directories; the second one is
// stricter (14 characters against 12).
func TestTargets(t *testing.T) {
	t.Parallel()
	const (
		longEnough = "Nouveau-mot-de-passe-1" // for both
		thirteen   = "Treize-car-13"          // for the first only
		tooShort   = "Court-1"                // for neither
	)
	tests := []struct {
		name        string
		uid, pw     string
		strictFirst bool   // the second directory is the first target
		findBy      string // of the second directory
		noMail      bool   // the job carries no mail
		firstDown   bool   // the env's slapd is stopped
		state       job.State
		reason      job.Reason
		targets     []string // in target order
		// Afterwards: does the new password bind on the env's slapd and
		// on the second one?
		onFirst, onSecond bool
	}{
		{"both written", "jdupont", longEnough, false, FindByUID, false, false, job.Done, "",
			[]string{"annuaire=done/", "messagerie=done/"}, true, true},
		{"second found by mail", "pmartin", longEnough, false, FindByMail, false, false, job.Done, "",
			[]string{"annuaire=done/", "messagerie=done/"}, true, true},
		{"second found by mail, job without mail", "pmartin", longEnough, false, FindByMail, true, false, job.Partial, job.ReasonNoSuchUser,
			[]string{"annuaire=done/", "messagerie=failed/no_such_user"}, true, false},
		{"refused by the second only", "elefevre", thirteen, false, FindByUID, false, false, job.Partial, job.ReasonTooShort,
			[]string{"annuaire=done/", "messagerie=rejected/too_short"}, true, false},
		{"refused by the first: the second is not written", "elefevre", thirteen, true, FindByUID, false, false, job.Rejected, job.ReasonTooShort,
			[]string{"messagerie=rejected/too_short", "annuaire=queued/"}, false, false},
		{"refused by both", "jdupont", tooShort, false, FindByUID, false, false, job.Rejected, job.ReasonTooShort,
			[]string{"annuaire=rejected/too_short", "messagerie=queued/"}, false, false},
		// The first is unreachable and the second refuses: nothing was
		// written, so the person picks another password at once.
		{"first unreachable, refused by the second", "jdupont", thirteen, false, FindByUID, false, true, job.Rejected, job.ReasonTooShort,
			[]string{"annuaire=queued/unavailable", "messagerie=rejected/too_short"}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testenv.SlapdOptions{})
			sec := e.startSecond(t)
			first, other := annuaire(e.dir), messagerie(sec.dir, tc.findBy)
			targets := []Target{first, other}
			if tc.strictFirst {
				targets = []Target{other, first}
			}
			start(t, e.targetsWorker("w", targets, nil))
			u := seeded(tc.uid)
			mail := u.Mail
			if tc.noMail {
				mail = ""
			}
			sub := e.s.EntryUUID(t, tc.uid)
			if tc.firstDown {
				e.s.Stop(t)
			}
			j := e.submitJobFor(t, sub, tc.uid, mail, tc.pw)
			st := e.waitSettled(t, j.ID)
			if st.State != tc.state || st.Reason != tc.reason || st.Attempts != 1 || !slices.Equal(outcomes(st.Targets), tc.targets) {
				t.Fatalf("status = %s/%s after %d attempts, targets %q; want %s/%s after 1, %q",
					st.State, st.Reason, st.Attempts, outcomes(st.Targets), tc.state, tc.reason, tc.targets)
			}
			if st.Targets[0].Label != targets[0].Label {
				t.Errorf("label = %q", st.Targets[0].Label)
			}
			e.checkEvent(t, j.ID, tc.state, tc.targets)
			e.s.Start(t)
			if got := e.s.Binds(t, tc.uid, tc.pw); got != tc.onFirst {
				t.Errorf("new password binds on the first directory: %v, want %v", got, tc.onFirst)
			}
			if got := sec.s.Binds(t, tc.uid, tc.pw); got != tc.onSecond {
				t.Errorf("new password binds on the second directory: %v, want %v", got, tc.onSecond)
			}
			if !tc.onSecond && !sec.s.Binds(t, tc.uid, u.Password) {
				t.Error("the second directory's password changed")
			}
			if strings.Contains(e.logs.String(), u.Mail) {
				t.Error("the logs contain the mail")
			}
		})
	}
}

// submitJobFor queues a change for subject, found by uid and mail.
func (e *env) submitJobFor(t *testing.T, subject, uid, mail, password string) job.Job {
	t.Helper()
	e.mu.Lock()
	e.secrets = append(e.secrets, password)
	e.mu.Unlock()
	now := e.clk.Now()
	j := job.Job{ID: job.NewID(), Subject: subject, Login: uid, Mail: mail, CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute)}
	var err error
	if j.Sealed, err = e.sealer.Seal(j, password); err != nil {
		t.Fatal(err)
	}
	if err := e.signer.Sign(&j); err != nil {
		t.Fatal(err)
	}
	if err := e.q.Enqueue(context.Background(), j); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	return j
}

// TestSecondTargetDown: while the second directory is down, the job is
// retried for it alone: the first is written once, its outcome kept; the
// second is written once back within the retry limit, or the job ends
// partial past it.
func TestSecondTargetDown(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		downFor int // failed attempts before the second slapd returns (never: > RetryLimit)
		state   job.State
		reason  job.Reason
		targets []string
	}{
		{"back in time", 2, job.Done, "", []string{"annuaire=done/", "messagerie=done/"}},
		{"past the retry limit", 4, job.Partial, job.ReasonUnavailable, []string{"annuaire=done/", "messagerie=failed/unavailable"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testenv.SlapdOptions{})
			sec := e.startSecond(t)
			w1 := &stepWriter{Writer: e.dir, reached: make(chan struct{})}
			w2 := &stepWriter{Writer: sec.dir, reached: make(chan struct{})}
			start(t, e.targetsWorker("w", []Target{annuaire(w1), messagerie(w2, FindByUID)}, nil)) // RetryLimit 3
			sec.s.Stop(t)
			const pw = "Nouveau-mot-de-passe-1"
			j := e.submit(t, "jdupont", pw)

			backoff := 10 * time.Second
			for attempt := 1; attempt <= tc.downFor && attempt <= 3; attempt++ {
				st := e.waitFor(t, j.ID, "retried", func(st job.Status) bool { return st.Attempts == attempt && st.State == job.Queued })
				want := []string{"annuaire=done/", "messagerie=queued/unavailable"}
				if st.Reason != job.ReasonUnavailable || !slices.Equal(outcomes(st.Targets), want) {
					t.Fatalf("while the second is down: %s/%s %q, want queued/unavailable %q", st.State, st.Reason, outcomes(st.Targets), want)
				}
				if attempt == tc.downFor {
					sec.s.Start(t)
				}
				e.clk.Advance(backoff)
				backoff *= 2
			}
			st := e.waitSettled(t, j.ID)
			if st.State != tc.state || st.Reason != tc.reason || !slices.Equal(outcomes(st.Targets), tc.targets) {
				t.Fatalf("status = %s/%s %q, want %s/%s %q", st.State, st.Reason, outcomes(st.Targets), tc.state, tc.reason, tc.targets)
			}
			if n, l := w1.writes.Load(), w1.lookups.Load(); n != 1 || l != 1 {
				t.Errorf("the first directory was written %d times, searched %d, want once (its outcome is kept)", n, l)
			}
			sec.s.Start(t)
			if !e.s.Binds(t, "jdupont", pw) {
				t.Error("the first directory does not have the new password")
			}
			if got := sec.s.Binds(t, "jdupont", pw); got != (tc.state == job.Done) {
				t.Errorf("the second directory has the new password: %v", got)
			}
			if tc.state == job.Done && w2.writes.Load() != 1 {
				t.Errorf("the second directory was written %d times, want once", w2.writes.Load())
			}
		})
	}
}

// TestKilledAfterFirstTarget: a worker writes the first target, then hangs
// on the second until its lease is over; the next worker writes the
// second only.
func TestKilledAfterFirstTarget(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SlapdOptions{})
	sec := e.startSecond(t)
	first1 := &stepWriter{Writer: e.dir, reached: make(chan struct{})}
	first2 := &stepWriter{Writer: sec.dir, holdLookup: true, reached: make(chan struct{})}
	stopFirst := start(t, e.targetsWorker("first", []Target{annuaire(first1), messagerie(first2, FindByUID)}, nil))
	const pw = "Nouveau-mot-de-passe-1"
	j := e.submit(t, "pmartin", pw)
	select {
	case <-first2.reached:
	case <-time.After(10 * time.Second):
		t.Fatal("the first worker never reached the second target")
	}
	st := e.waitFor(t, j.ID, "recorded", func(st job.Status) bool { return len(st.Targets) == 2 })
	if st.State != job.Running || !slices.Equal(outcomes(st.Targets), []string{"annuaire=done/", "messagerie=queued/"}) {
		t.Fatalf("while the first worker hangs: %+v", st)
	}

	// Its lease runs out; another worker takes the job over.
	e.clk.Advance(31 * time.Second)
	second1 := &stepWriter{Writer: e.dir, reached: make(chan struct{})}
	second2 := &stepWriter{Writer: sec.dir, reached: make(chan struct{})}
	start(t, e.targetsWorker("second", []Target{annuaire(second1), messagerie(second2, FindByUID)}, nil))
	st = e.waitSettled(t, j.ID)
	if st.State != job.Done || st.Attempts != 2 || !slices.Equal(outcomes(st.Targets), []string{"annuaire=done/", "messagerie=done/"}) {
		t.Fatalf("status = %+v", st)
	}
	stopFirst() // it wakes up to a job that is not its own any more
	if n := first1.writes.Load() + second1.writes.Load(); n != 1 || second1.lookups.Load() != 0 {
		t.Errorf("the first directory was written %d times, want once; searched again %d times", n, second1.lookups.Load())
	}
	if n := first2.writes.Load() + second2.writes.Load(); n != 1 {
		t.Errorf("the second directory was written %d times, want once", n)
	}
	if !e.s.Binds(t, "pmartin", pw) || !sec.s.Binds(t, "pmartin", pw) {
		t.Error("the new password is not in both directories")
	}
	if !strings.Contains(e.logs.String(), "lease lost") {
		t.Errorf("the first worker did not notice its lease was lost:\n%s", e.logs.String())
	}
}

// TestPoliciesPublished: the worker publishes the policies it can read, in
// target order; they vanish on the queue's clock when nobody publishes.
func TestPoliciesPublished(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SlapdOptions{})
	sec := e.startSecond(t)
	first := annuaire(e.dir)
	first.PolicyDN = "cn=default,ou=policies," + e.s.BaseDN
	other := messagerie(sec.dir, FindByMail)
	other.PolicyDN = "cn=default,ou=policies," + sec.s.BaseDN
	missing := Target{Name: "perdu", Label: "un annuaire sans politique", PolicyDN: "cn=nope,ou=policies," + e.s.BaseDN, Writer: e.dir}
	noDN := Target{Name: "sans-dn", Label: "un annuaire sans policy_dn", Writer: e.dir}
	start(t, e.targetsWorker("w", []Target{first, missing, other, noDN}, func(w *Worker) { w.PolicyInterval = time.Minute }))

	var ps []job.TargetPolicy
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		var err error
		if ps, err = e.q.Policies(context.Background()); err != nil {
			t.Fatal(err)
		}
		return len(ps) >= 2, fmt.Sprintf("published %+v, want two policies", ps)
	})
	if len(ps) != 2 || ps[0].Name != "annuaire" || ps[0].MinLength != 12 || ps[0].CheckQuality != 1 || ps[0].Label != first.Label ||
		ps[1].Name != "messagerie" || ps[1].MinLength != secondMinLength || !ps[1].ReadAt.Equal(e.clk.Now()) {
		t.Fatalf("published %+v", ps)
	}
	if !strings.Contains(e.logs.String(), "password policy not read") || !strings.Contains(e.logs.String(), "target=perdu") {
		t.Errorf("the unreadable policy was not logged:\n%s", e.logs.String())
	}
	// Three intervals later, on the queue's clock, nobody published again.
	e.clk.Advance(3*time.Minute + time.Second)
	if ps, err := e.q.Policies(context.Background()); err != nil || len(ps) != 0 {
		t.Fatalf("Policies after their life = %+v, %v", ps, err)
	}
}

func TestTargetsChecked(t *testing.T) {
	t.Parallel()
	w := &stepWriter{}
	tests := []struct {
		name    string
		targets []Target
		writer  Writer
		want    string
	}{
		{"nothing", nil, nil, "no directory"},
		{"both", []Target{annuaire(w)}, w, "not both"},
		{"duplicate name", []Target{annuaire(w), annuaire(w)}, nil, "used twice"},
		{"bad name", []Target{{Name: "Annuaire", Label: "x", Writer: w}}, nil, "name"},
		{"no label", []Target{{Name: "a", Writer: w}}, nil, "no label"},
		{"bad find_by", []Target{{Name: "a", Label: "x", FindBy: "cn", Writer: w}}, nil, "FindBy"},
		{"no writer", []Target{{Name: "a", Label: "x"}}, nil, "no Writer"},
	}
	for _, tc := range tests {
		_, err := resolveTargets(tc.targets, tc.writer)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	got, err := resolveTargets(nil, w)
	if err != nil || len(got) != 1 || got[0].Name != "annuaire" || got[0].Label != "l’annuaire" || got[0].FindBy != FindByUID || !got[0].CheckSubject {
		t.Errorf("the Writer shorthand = %+v, %v", got, err)
	}
}

// TestConclude covers the rules that decide a job from its targets.
func TestConclude(t *testing.T) {
	t.Parallel()
	o := func(name string, st job.State, r job.Reason) job.TargetOutcome {
		return job.TargetOutcome{Name: name, State: st, Reason: r}
	}
	q, d := job.Queued, job.Done
	tests := []struct {
		name   string
		ts     []job.TargetOutcome
		state  job.State // "": retried
		reason job.Reason
	}{
		{"all done", []job.TargetOutcome{o("a", d, ""), o("b", d, "")}, d, ""},
		{"partial", []job.TargetOutcome{o("a", d, ""), o("b", job.Failed, job.ReasonNoSuchUser)}, job.Partial, job.ReasonNoSuchUser},
		{"none written, first failed", []job.TargetOutcome{o("a", job.Failed, job.ReasonNoSuchUser), o("b", job.Rejected, job.ReasonTooShort)}, job.Failed, job.ReasonNoSuchUser},
		{"none written, first rejected", []job.TargetOutcome{o("a", job.Rejected, job.ReasonInHistory), o("b", job.Failed, job.ReasonNoSuchUser)}, job.Rejected, job.ReasonInHistory},
		{"pending, nothing written, a refusal", []job.TargetOutcome{o("a", q, job.ReasonUnavailable), o("b", job.Rejected, job.ReasonTooShort)}, job.Rejected, job.ReasonTooShort},
		{"pending, maybe written, a refusal", []job.TargetOutcome{o("a", q, job.ReasonUnconfirmed), o("b", job.Rejected, job.ReasonTooShort)}, "", job.ReasonUnconfirmed},
		{"pending, one written", []job.TargetOutcome{o("a", d, ""), o("b", q, job.ReasonUnavailable)}, "", job.ReasonUnavailable},
		{"pending, a failure", []job.TargetOutcome{o("a", job.Failed, job.ReasonNoSuchUser), o("b", q, job.ReasonUnavailable)}, "", job.ReasonUnavailable},
	}
	for _, tc := range tests {
		out := conclude(tc.ts)
		if out.state != tc.state || out.reason != tc.reason {
			t.Errorf("%s: %q/%q, want %q/%q", tc.name, out.state, out.reason, tc.state, tc.reason)
		}
	}
	if out := giveUp([]job.TargetOutcome{o("a", q, job.ReasonUnconfirmed), o("b", q, job.ReasonUnavailable)}); out.state != job.Failed || out.reason != job.ReasonUnconfirmed {
		t.Errorf("giveUp, nothing written: %+v", out)
	}
	if out := giveUp([]job.TargetOutcome{o("a", d, ""), o("b", q, "")}); out.state != job.Partial || out.reason != job.ReasonUnavailable ||
		out.targets[1].State != job.Failed {
		t.Errorf("giveUp, one written: %+v", out)
	}
	// A later directory that may have the new password makes the whole
	// change unconfirmed, whatever the first one says: neither "not
	// changed" nor "choose another password".
	for _, tc := range []struct {
		name string
		ts   []job.TargetOutcome
	}{
		{"the first down", []job.TargetOutcome{o("a", q, job.ReasonUnavailable), o("b", q, job.ReasonUnconfirmed)}},
		{"the first refused", []job.TargetOutcome{o("a", job.Rejected, job.ReasonInHistory), o("b", q, job.ReasonUnconfirmed)}},
		{"the first failed", []job.TargetOutcome{o("a", job.Failed, job.ReasonNoSuchUser), o("b", q, job.ReasonUnconfirmed)}},
	} {
		if out := giveUp(tc.ts); out.state != job.Failed || out.reason != job.ReasonUnconfirmed {
			t.Errorf("giveUp, %s, a later one unconfirmed: %s/%s, want failed/unconfirmed", tc.name, out.state, out.reason)
		}
	}
}

// policyWriter is a Writer that reads a fixed policy.
type policyWriter struct {
	stepWriter
	p directory.Policy
}

func (w *policyWriter) Policy(context.Context, string) (directory.Policy, error) { return w.p, nil }

// TestEffectivePolicy: lengths are published as ppolicy enforces them,
// that is not at all without quality checking.
func TestEffectivePolicy(t *testing.T) {
	t.Parallel()
	rdb := testenv.StartRedis(t).Client(t)
	clk := testenv.NewClock(time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC))
	q := job.NewQueue(job.Options{Client: rdb, Prefix: "test:", Now: clk.Now})
	checked := &policyWriter{p: directory.Policy{MinLength: 12, MaxLength: 64, CheckQuality: 2}}
	unchecked := &policyWriter{p: directory.Policy{MinLength: 12, MaxLength: 64}}
	w := &Worker{Queue: q, Clock: clk.Now, Log: slog.New(slog.DiscardHandler), PolicyInterval: time.Minute, Targets: []Target{
		{Name: "a", Label: "A", PolicyDN: "cn=p", Writer: checked},
		{Name: "b", Label: "B", PolicyDN: "cn=p", Writer: unchecked},
	}}
	w.publishOnce(context.Background(), []int{0, 1})
	ps, err := q.Policies(context.Background())
	if err != nil || len(ps) != 2 ||
		ps[0].MinLength != 12 || ps[0].MaxLength != 64 || ps[0].CheckQuality != 2 ||
		ps[1].MinLength != 0 || ps[1].MaxLength != 0 || ps[1].CheckQuality != 0 {
		t.Fatalf("published %+v, %v", ps, err)
	}
}
