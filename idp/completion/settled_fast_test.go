package completion_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	demo "github.com/region-nouvelle-aquitaine/idp/deploy/dev"
	"github.com/region-nouvelle-aquitaine/idp/idp/completion"
	"github.com/region-nouvelle-aquitaine/idp/idp/dev/devdir"
	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
	"github.com/region-nouvelle-aquitaine/idp/views/email"
)

// The demo directory's first account (deploy/dev/directory.yaml).
const (
	demoUID     = "jdupont"
	demoMail    = "jeanne.dupont@example.org"
	demoSubject = "4f1c2d7e-6a0b-4d3e-9a51-3c2f8e7b1a01"
	events      = "idp:{pwchange}:events"
)

// settledEnv runs the consumer over miniredis and the real store, with the
// demo directory; mail and the throttle are recorded.
type settledEnv struct {
	t      *testing.T
	rdb    *redis.Client
	st     *store.Store
	clock  *testenv.Clock
	out    *outbox
	forget *forgetter
	// two sessions of the demo account, by Ref
	sessions [2]string
}

func newSettledEnv(t *testing.T) *settledEnv {
	t.Helper()
	_, rdb := testenv.Miniredis(t)
	clock := testenv.NewClock(time.Now().Truncate(time.Millisecond))
	st := store.New(store.Options{Client: rdb, Now: clock.Now})
	dir, err := devdir.Parse(demo.Directory)
	if err != nil {
		t.Fatal(err)
	}
	e := &settledEnv{t: t, rdb: rdb, st: st, clock: clock, out: &outbox{}, forget: &forgetter{}}
	for i := range e.sessions {
		now := clock.Now()
		s := &store.Session{ID: store.NewID(), Subject: demoSubject, AuthTime: now, CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}
		if err := st.SaveSession(t.Context(), s); err != nil {
			t.Fatal(err)
		}
		e.sessions[i] = s.ID
	}
	clock.Advance(time.Second)
	c, err := completion.New(completion.Config{
		Client: rdb, Stream: events, Consumer: "web-1",
		Sessions: st, People: dir, Throttle: e.forget, Outbox: e.out,
		Compose: func(ctx context.Context, at time.Time) (completion.Mail, error) {
			m, err := email.RenderPasswordChanged(ctx, email.PasswordChanged{At: at, SupportURL: "https://support.example/", ResetURL: "https://idp.example/mot-de-passe-perdu", PrivacyURL: "https://idp.example/donnees-personnelles"})
			return completion.Mail{Subject: m.Subject, Text: m.Text, HTML: m.HTML}, err
		},
		Block: 20 * time.Millisecond, Now: clock.Now, Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

// publish adds an event as ldapsync does; fields override the defaults.
func (e *settledEnv) publish(jobID string, state job.State, at time.Time, fields map[string]string) string {
	e.t.Helper()
	v := map[string]string{
		"job": jobID, "sub": demoSubject, "state": string(state), "reason": "",
		"attempts": "1", "at": strconv.FormatInt(at.UnixMilli(), 10),
	}
	if state == job.Partial {
		b, _ := json.Marshal([]job.TargetOutcome{
			{Name: "annuaire", Label: "l’annuaire des usagers", State: job.Done},
			{Name: "lycees", Label: "la messagerie des lycées", State: job.Rejected, Reason: job.ReasonInHistory},
		})
		v["targets"] = string(b)
	}
	for k, x := range fields {
		if x == "" {
			delete(v, k)
			continue
		}
		v[k] = x
	}
	var values []any
	for k, x := range v {
		values = append(values, k, x)
	}
	id, err := e.rdb.XAdd(e.t.Context(), &redis.XAddArgs{Stream: events, Values: values}).Result()
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

// handled waits until the consumer group has read id and holds nothing
// pending.
func (e *settledEnv) handled(id string) {
	e.t.Helper()
	testenv.Eventually(e.t, 5*time.Second, func() (bool, string) {
		groups, err := e.rdb.XInfoGroups(e.t.Context(), events).Result()
		ok := err == nil && len(groups) == 1 && groups[0].Pending == 0 && groups[0].LastDeliveredID >= id
		return ok, fmt.Sprintf("event %s not handled: groups %+v, %v", id, groups, err)
	})
}

// live reports which of the demo account's two sessions still exist.
func (e *settledEnv) live() [2]bool {
	var out [2]bool
	for i, id := range e.sessions {
		_, err := e.st.Session(e.t.Context(), id)
		out[i] = err == nil
	}
	return out
}

// TestSettledChange: a written change (everywhere or in part) ends the
// person's sessions but the one it was made from, forgets their failed
// sign-ins and mails the notice to the directory's address; one that may
// have been written ends the sessions only; a refusal or a failure
// changes nothing; a malformed, old or repeated event is skipped.
func TestSettledChange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		state  job.State
		keep   bool // made while signed in with the first session
		age    time.Duration
		fields map[string]string
		twice  bool
		// what should follow
		live   [2]bool
		mailed int
		forget bool
	}{
		{name: "written", state: job.Done, mailed: 1, forget: true},
		{name: "written while signed in", state: job.Done, keep: true, live: [2]bool{true, false}, mailed: 1, forget: true},
		{name: "written in one directory only", state: job.Partial, mailed: 1, forget: true},
		{name: "written, delivered twice", state: job.Done, twice: true, mailed: 1, forget: true},
		{name: "refused by the directory", state: job.Rejected, fields: map[string]string{"reason": string(job.ReasonInHistory)}, live: [2]bool{true, true}},
		{name: "given up", state: job.Failed, fields: map[string]string{"reason": string(job.ReasonUnavailable)}, live: [2]bool{true, true}},
		// Sent, but whether the directory applied it is unknown: the
		// sessions end as if it had, and no notice says it did.
		{name: "may have been written", state: job.Failed, fields: map[string]string{"reason": string(job.ReasonUnconfirmed)}},
		{name: "may have been written while signed in", state: job.Failed, keep: true, fields: map[string]string{"reason": string(job.ReasonUnconfirmed)}, live: [2]bool{true, false}},
		{name: "older than a day", state: job.Done, age: 25 * time.Hour, live: [2]bool{true, true}},
		{name: "no job id", state: job.Done, fields: map[string]string{"job": ""}, live: [2]bool{true, true}},
		{name: "unknown state", state: "nonsense", live: [2]bool{true, true}},
		{name: "unreadable date", state: job.Done, fields: map[string]string{"at": "yesterday"}, live: [2]bool{true, true}},
		{name: "written, account gone from the directory", state: job.Done, fields: map[string]string{"sub": "no-such-subject"}, live: [2]bool{true, true}, forget: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newSettledEnv(t)
			jobID := job.NewID()
			if tc.keep {
				if err := e.st.KeepSessionFor(t.Context(), jobID, store.Ref(e.sessions[0]), e.clock.Now().Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
			}
			at := e.clock.Now().Add(-tc.age)
			id := e.publish(jobID, tc.state, at, tc.fields)
			e.handled(id)
			if tc.twice {
				e.handled(e.publish(jobID, tc.state, at, tc.fields))
			}
			if got := e.live(); got != tc.live {
				t.Errorf("sessions live %v, want %v", got, tc.live)
			}
			mails := e.out.All()
			if len(mails) != tc.mailed {
				t.Fatalf("%d notices, want %d", len(mails), tc.mailed)
			}
			if tc.mailed > 0 && (mails[0].To != demoMail || mails[0].Subject != "Votre mot de passe a été modifié") {
				t.Errorf("notice %q to %q", mails[0].Subject, mails[0].To)
			}
			forgot := e.forget.All()
			switch {
			case !tc.forget && len(forgot) != 0:
				t.Errorf("failed sign-ins forgotten for %+v", forgot)
			case tc.forget && len(forgot) != 1:
				t.Errorf("failed sign-ins forgotten %d times, want once", len(forgot))
			case tc.forget && tc.fields["sub"] == "" && (forgot[0].Subject != demoSubject || forgot[0].Username != demoUID || forgot[0].Email != demoMail):
				t.Errorf("forgotten for %+v, want the directory's account (uid and mail)", forgot[0])
			case tc.forget && tc.fields["sub"] != "" && forgot[0].Subject != tc.fields["sub"]:
				t.Errorf("forgotten for %+v, want the event's subject", forgot[0])
			}
		})
	}
}

// outbox records queued notices.
type outbox struct {
	testenv.Recorder[completion.Mail]
}

func (o *outbox) Enqueue(_ context.Context, m completion.Mail) error { o.Add(m); return nil }

// forgetter records whose failed sign-ins were forgotten.
type forgetter struct {
	testenv.Recorder[ldapauth.User]
}

func (f *forgetter) ForgetPerson(_ context.Context, u ldapauth.User) error { f.Add(u); return nil }
