package reset_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/reset"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

func TestStateOf(t *testing.T) {
	dir := func(name, label string, st job.State, r job.Reason) job.TargetOutcome {
		return job.TargetOutcome{Name: name, Label: label, State: st, Reason: r}
	}
	for _, c := range []struct {
		name string
		in   job.Status
		want reset.ChangeState
	}{
		{"queued", job.Status{State: job.Queued}, reset.ChangeState{Pending: true}},
		{"running", job.Status{State: job.Running}, reset.ChangeState{Pending: true}},
		{"retrying an unreachable directory", job.Status{State: job.Queued, Reason: job.ReasonUnavailable}, reset.ChangeState{Pending: true, Slow: true}},
		{"one written, one slow, by label or name", job.Status{State: job.Running, Targets: []job.TargetOutcome{
			dir("usagers", "l’annuaire des usagers", job.Done, ""), dir("agents", "", job.Queued, job.ReasonUnavailable), dir("x", "X", job.Queued, ""),
		}}, reset.ChangeState{Pending: true, Slow: true, WrittenIn: []string{"l’annuaire des usagers"}, SlowIn: []string{"agents"}}},
		{"done", job.Status{State: job.Done}, reset.ChangeState{Done: true}},
		{"too short", job.Status{State: job.Rejected, Reason: job.ReasonTooShort}, reset.ChangeState{Refused: true, Problem: views.PasswordTooShort}},
		{"too long", job.Status{State: job.Rejected, Reason: job.ReasonTooLong}, reset.ChangeState{Refused: true, Problem: views.PasswordTooLong}},
		{"in history", job.Status{State: job.Rejected, Reason: job.ReasonInHistory}, reset.ChangeState{Refused: true, Problem: views.PasswordInHistory}},
		{"too young", job.Status{State: job.Rejected, Reason: job.ReasonTooYoung}, reset.ChangeState{Refused: true, Problem: views.PasswordTooYoung}},
		{"quality", job.Status{State: job.Rejected, Reason: job.ReasonQuality}, reset.ChangeState{Refused: true, Problem: views.PasswordQuality}},
		{"policy without detail", job.Status{State: job.Rejected, Reason: job.ReasonPolicy}, reset.ChangeState{Refused: true, Problem: views.PasswordRefused}},
		{"failed", job.Status{State: job.Failed, Reason: job.ReasonNoSuchUser}, reset.ChangeState{Failed: true}},
		{"failed, maybe written", job.Status{State: job.Failed, Reason: job.ReasonUnconfirmed}, reset.ChangeState{Failed: true, Unconfirmed: true}},
		{"partial", job.Status{State: job.Partial, Targets: []job.TargetOutcome{
			dir("usagers", "l’annuaire des usagers", job.Done, ""), dir("agents", "l’annuaire des agents", job.Rejected, job.ReasonInHistory), dir("ad", "", job.Failed, job.ReasonUnavailable),
		}}, reset.ChangeState{Partial: true, NotChangedIn: []string{"l’annuaire des agents", "ad"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := reset.StateOf(c.in); !reflect.DeepEqual(got, c.want) {
				t.Errorf("StateOf(%+v)\n got %+v\nwant %+v", c.in, got, c.want)
			}
		})
	}
}

// keeper records the kept sessions, or fails.
type keeper struct {
	kept map[string]string
	err  error
}

func (k *keeper) KeepSessionFor(_ context.Context, jobID, session string, _ time.Time) error {
	if k.err != nil {
		return k.err
	}
	k.kept[jobID] = session
	return nil
}

// jobsFixture is a real queue on miniredis, the worker's keys, and a
// JobChanges in front of it.
type jobsFixture struct {
	q       *job.Queue
	opener  *job.Opener
	verify  *job.Verifier
	keeper  *keeper
	changes *reset.JobChanges
	now     time.Time
}

func newJobsFixture(t *testing.T) *jobsFixture {
	t.Helper()
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	f := &jobsFixture{now: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), keeper: &keeper{kept: map[string]string{}}}
	clock := func() time.Time { return f.now }
	f.q = job.NewQueue(job.Options{Client: c, Prefix: "t:", Now: clock})
	wk, err := job.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if f.opener, err = job.NewOpener(wk); err != nil {
		t.Fatal(err)
	}
	sk, err := job.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	if f.verify, err = job.NewVerifier(sk.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	f.changes, err = reset.NewJobChanges(reset.JobChangesConfig{
		Queue: f.q, PublicKey: job.MarshalPublicKey(wk.PublicKey()), SigningKey: sk,
		Sessions: f.keeper, Lifetime: 5 * time.Minute, Now: clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestJobChangesSubmit(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name       string
		change     reset.Change
		keeperErr  error
		wantErr    bool
		wantKept   string
		wantQueued bool
	}{
		{name: "forgotten password", change: reset.Change{Subject: "s1", Login: "jdupont", Mail: "j@example.org", Password: "correct horse battery"}, wantQueued: true},
		{name: "signed in: the session survives", change: reset.Change{Subject: "s1", Login: "jdupont", Password: "correct horse battery", KeepSession: "sess-1"}, wantKept: "sess-1", wantQueued: true},
		{name: "session not kept: nothing queued", change: reset.Change{Subject: "s1", Login: "jdupont", Password: "x", KeepSession: "sess-1"}, keeperErr: errors.New("redis down"), wantErr: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newJobsFixture(t)
			f.keeper.err = c.keeperErr
			q, err := f.changes.Submit(ctx, c.change)
			if (err != nil) != c.wantErr {
				t.Fatalf("Submit: %v, want error %v", err, c.wantErr)
			}
			j, err := f.q.Claim(ctx, "w", time.Minute)
			if !c.wantQueued {
				if !errors.Is(err, job.ErrEmpty) {
					t.Fatalf("a job was queued (%v)", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if j.ID != q.JobID || j.Subject != c.change.Subject || j.Login != c.change.Login || j.Mail != c.change.Mail {
				t.Errorf("queued %+v for id %s and %+v", j, q.JobID, c.change)
			}
			if !j.ExpiresAt.Equal(f.now.Add(5*time.Minute)) || !q.ExpiresAt.Equal(j.ExpiresAt) {
				t.Errorf("expires at %v (Submit said %v), want the job's lifetime from now", j.ExpiresAt, q.ExpiresAt)
			}
			if err := f.verify.Verify(j); err != nil {
				t.Errorf("the worker refuses the signature: %v", err)
			}
			if pw, err := f.opener.Open(j); err != nil || pw != c.change.Password {
				t.Errorf("the worker opens %q, %v", pw, err)
			}
			if got := f.keeper.kept[q.JobID]; got != c.wantKept {
				t.Errorf("kept session %q, want %q", got, c.wantKept)
			}
		})
	}
}

// A second change of the same person while one is under way is not
// queued, and says so: following the first would show the second as
// written. The states follow the queue.
func TestJobChangesOneAtATime(t *testing.T) {
	ctx := context.Background()
	f := newJobsFixture(t)
	first, err := f.changes.Submit(ctx, reset.Change{Subject: "s1", Login: "jdupont", Password: "one password here"})
	if err != nil {
		t.Fatal(err)
	}
	second, err := f.changes.Submit(ctx, reset.Change{Subject: "s1", Login: "jdupont", Password: "another password"})
	if !errors.Is(err, reset.ErrChangeUnderWay) || second.JobID != "" {
		t.Fatalf("second change: %+v, %v; want ErrChangeUnderWay", second, err)
	}
	if st, err := f.changes.State(ctx, first.JobID); err != nil || !st.Pending {
		t.Errorf("queued: %+v, %v", st, err)
	}
	j, err := f.q.Claim(ctx, "w", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.q.Complete(ctx, j, job.Status{State: job.Rejected, Reason: job.ReasonInHistory}); err != nil {
		t.Fatal(err)
	}
	if st, err := f.changes.State(ctx, first.JobID); err != nil || !st.Refused || st.Problem != views.PasswordInHistory {
		t.Errorf("refused: %+v, %v", st, err)
	}
	if st, err := f.changes.State(ctx, "unknownjobidunknownjob"); err != nil || !st.Failed {
		t.Errorf("unknown job: %+v, %v; want failed", st, err)
	}
}

func TestNewJobChangesKeys(t *testing.T) {
	wk, err := job.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	sk, err := job.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	pub := job.MarshalPublicKey(wk.PublicKey())
	for _, c := range []struct {
		name string
		cfg  reset.JobChangesConfig
		ok   bool
	}{
		{"both keys", reset.JobChangesConfig{PublicKey: pub, SigningKey: sk}, true},
		{"no public key", reset.JobChangesConfig{SigningKey: sk}, false},
		{"garbled public key", reset.JobChangesConfig{PublicKey: "idp-job-pk:zz", SigningKey: sk}, false},
		{"no signing key", reset.JobChangesConfig{PublicKey: pub}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.cfg.Queue, c.cfg.Sessions = job.NewQueue(job.Options{}), &keeper{}
			if _, err := reset.NewJobChanges(c.cfg); (err == nil) != c.ok {
				t.Errorf("NewJobChanges: %v, want ok %v", err, c.ok)
			}
		})
	}
}

// A change whose step began (Since) before another change of the person
// was written is not queued, and says so; one without Since, or that began
// after, is.
func TestJobChangesSuperseded(t *testing.T) {
	ctx := context.Background()
	f := newJobsFixture(t)
	opened := f.now
	f.now = f.now.Add(time.Second)
	first, err := f.changes.Submit(ctx, reset.Change{Subject: "s1", Login: "jdupont", Password: "the owner's new one"})
	if err != nil {
		t.Fatal(err)
	}
	j, err := f.q.Claim(ctx, "w", time.Minute)
	if err != nil || j.ID != first.JobID {
		t.Fatalf("claim: %v", err)
	}
	f.now = f.now.Add(time.Second)
	if err := f.q.Complete(ctx, j, job.Status{State: job.Done}); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(time.Second)
	if q, err := f.changes.Submit(ctx, reset.Change{Subject: "s1", Login: "jdupont", Password: "someone else's", Since: opened}); !errors.Is(err, reset.ErrChangeSuperseded) || q.JobID != "" {
		t.Fatalf("a step opened before the written change: %+v, %v; want ErrChangeSuperseded", q, err)
	}
	if _, err := f.q.Claim(ctx, "w", time.Minute); !errors.Is(err, job.ErrEmpty) {
		t.Fatalf("the superseded change was queued (%v)", err)
	}
	if _, err := f.changes.Submit(ctx, reset.Change{Subject: "s1", Login: "jdupont", Password: "a later step's", Since: f.now}); err != nil {
		t.Fatalf("a step opened after the written change: %v", err)
	}
}
