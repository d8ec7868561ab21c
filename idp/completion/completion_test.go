package completion

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

const stream = "idp:{pwchange}:events"

// fakes records what the consumer did.
type fakes struct {
	mu      sync.Mutex
	revoked []string
	mails   []Mail
	down    bool // the directory cannot be asked
	logs    bytes.Buffer
}

func (f *fakes) RevokeSubject(_ context.Context, sub, keep string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked = append(f.revoked, sub+keep)
	return nil
}

// SessionKeptFor keeps "-kept" for the jobs whose id ends with "keep".
func (f *fakes) SessionKeptFor(_ context.Context, jobID string) (string, error) {
	if strings.HasSuffix(jobID, "keep") {
		return "-kept", nil
	}
	return "", nil
}

func (f *fakes) FindBySubject(_ context.Context, sub string) (ldapauth.User, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return ldapauth.User{}, false, ldapauth.ErrUnavailable
	}
	if sub == "nobody" {
		return ldapauth.User{}, false, nil
	}
	return ldapauth.User{Subject: sub, Email: sub + "@example.org"}, true, nil
}

func (f *fakes) Enqueue(_ context.Context, m Mail) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mails = append(f.mails, m)
	return nil
}

func (f *fakes) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logs.Write(p)
}

func (f *fakes) snapshot() (revoked []string, mails []Mail, logs string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.revoked...), append([]Mail(nil), f.mails...), f.logs.String()
}

func (f *fakes) setDown(v bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = v
}

// start runs a consumer named name until the test ends.
func start(t *testing.T, rdb redis.UniversalClient, f *fakes, name string, now func() time.Time) {
	t.Helper()
	c, err := New(Config{
		Client: rdb, Stream: stream, Consumer: name,
		Sessions: f, People: f, Outbox: f,
		Compose: func(_ context.Context, at time.Time) (Mail, error) {
			return Mail{Subject: "Votre mot de passe a été modifié", Text: at.UTC().Format(time.RFC3339)}, nil
		},
		Block: 50 * time.Millisecond, ClaimAfter: 200 * time.Millisecond, Lease: time.Second,
		Now: now, Log: slog.New(slog.NewJSONHandler(f, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func publish(t *testing.T, rdb redis.UniversalClient, jobID, sub string, state job.State, reason job.Reason, at time.Time) string {
	t.Helper()
	id, err := rdb.XAdd(t.Context(), &redis.XAddArgs{Stream: stream, Values: []any{
		"job", jobID, "sub", sub, "state", string(state), "reason", string(reason),
		"attempts", "1", "at", strconv.FormatInt(at.UnixMilli(), 10), "targets", targetsOf(state, reason),
	}}).Result()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// settled waits until the group has read id and has nothing pending (one
// XINFO GROUPS answers both at the same instant).
func settled(t *testing.T, rdb redis.UniversalClient, id string) {
	t.Helper()
	testenv.Eventually(t, 5*time.Second, func() (bool, string) {
		groups, err := rdb.XInfoGroups(t.Context(), stream).Result()
		if err == nil && len(groups) == 1 && groups[0].Pending == 0 && groups[0].LastDeliveredID >= id {
			return true, ""
		}
		return false, fmt.Sprintf("entry %s not acknowledged: groups %+v, %v", id, groups, err)
	})
}

func TestConsumer(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name                  string
		sub                   string
		state                 job.State
		reason                job.Reason
		at                    time.Time
		wantRevoked, wantMail bool
		wantAudit             string
		keep                  bool // the change was made while signed in
	}{
		{"written", "alice", job.Done, "", now, true, true, `"audit":"reset.written","sub":"alice"`, false},
		{"refused by the policy", "bob", job.Rejected, job.ReasonInHistory, now, false, false, `"audit":"reset.refused","sub":"bob","reason":"in_history"`, false},
		{"failed", "carol", job.Failed, job.ReasonUnavailable, now, false, false, `"audit":"reset.failed","sub":"carol","reason":"unavailable"`, false},
		{"written, no account any more", "nobody", job.Done, "", now, true, false, `"audit":"reset.written","sub":"nobody"`, false},
		{"too old", "dave", job.Done, "", now.Add(-25 * time.Hour), false, false, "", false},
		{"written while signed in", "erin", job.Done, "", now, true, true, `"audit":"reset.written","sub":"erin"`, true},
		{"written in one directory only", "fred", job.Partial, job.ReasonInHistory, now, true, true, `"level":"ERROR","msg":"audit","audit":"reset.partial","sub":"fred","reason":"in_history","targets":"lycees"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rdb := testenv.StartRedis(t).Client(t)
			f := &fakes{}
			start(t, rdb, f, "web-1", time.Now)
			jobID, wantRevoked := job.NewID(), tt.sub
			if tt.keep {
				jobID, wantRevoked = jobID+"keep", tt.sub+"-kept"
			}
			id := publish(t, rdb, jobID, tt.sub, tt.state, tt.reason, tt.at)
			settled(t, rdb, id)
			revoked, mails, logs := f.snapshot()
			if got := len(revoked) == 1 && revoked[0] == wantRevoked; got != tt.wantRevoked {
				t.Errorf("revoked %v, want revoked=%v", revoked, tt.wantRevoked)
			}
			if got := len(mails) == 1 && mails[0].To == tt.sub+"@example.org"; got != tt.wantMail || (!tt.wantMail && len(mails) > 0) {
				t.Errorf("mails %v, want one=%v", mails, tt.wantMail)
			}
			if tt.wantAudit != "" && !strings.Contains(logs, tt.wantAudit) {
				t.Errorf("no audit %s in\n%s", tt.wantAudit, logs)
			}
			if tt.wantAudit == "" && strings.Contains(logs, `"audit"`) {
				t.Errorf("audited: %s", logs)
			}
		})
	}
}

// A copy of an event (another stream id, the same job) and a malformed
// entry change nothing.
func TestConsumerIdempotent(t *testing.T) {
	rdb := testenv.StartRedis(t).Client(t)
	f := &fakes{}
	start(t, rdb, f, "web-1", time.Now)
	jobID := job.NewID()
	settled(t, rdb, publish(t, rdb, jobID, "alice", job.Done, "", time.Now()))
	settled(t, rdb, publish(t, rdb, jobID, "alice", job.Done, "", time.Now()))
	bad, err := rdb.XAdd(t.Context(), &redis.XAddArgs{Stream: stream, Values: []any{"job", "x", "state", "nonsense"}}).Result()
	if err != nil {
		t.Fatal(err)
	}
	settled(t, rdb, bad)
	revoked, mails, logs := f.snapshot()
	if len(revoked) != 1 || len(mails) != 1 || strings.Count(logs, `"audit":"reset.written"`) != 1 {
		t.Errorf("after a copy: %d revocations, %d mails, %d audit events; want 1 each", len(revoked), len(mails), strings.Count(logs, `"audit":"reset.written"`))
	}
	if !strings.Contains(logs, "completion: event handled already") || !strings.Contains(logs, "completion: malformed event dropped") {
		t.Errorf("logs:\n%s", logs)
	}
}

// The directory is down: sessions end at once, the mail waits; once the
// directory answers, the entry is claimed again and the mail queued once.
func TestConsumerDirectoryDown(t *testing.T) {
	rdb := testenv.StartRedis(t).Client(t)
	f := &fakes{}
	f.setDown(true)
	start(t, rdb, f, "web-1", time.Now)
	id := publish(t, rdb, job.NewID(), "alice", job.Done, "", time.Now())
	testenv.Eventually(t, 5*time.Second, func() (bool, string) {
		r, _, logs := f.snapshot()
		return len(r) > 0 && strings.Contains(logs, "will retry"),
			fmt.Sprintf("%d sessions ended, a retry logged: %t", len(r), strings.Contains(logs, "will retry"))
	})
	if _, mails, _ := f.snapshot(); len(mails) != 0 {
		t.Fatal("a mail without an address")
	}
	f.setDown(false)
	settled(t, rdb, id)
	_, mails, logs := f.snapshot()
	if len(mails) != 1 || strings.Count(logs, `"audit":"reset.written"`) != 1 {
		t.Errorf("%d mails, want 1:\n%s", len(mails), logs)
	}
}

// An entry read by a consumer that died before acknowledging it is
// claimed by another one.
func TestConsumerReclaimsFromDeadConsumer(t *testing.T) {
	rdb := testenv.StartRedis(t).Client(t)
	ctx := t.Context()
	if err := rdb.XGroupCreateMkStream(ctx, stream, "web", "0").Err(); err != nil {
		t.Fatal(err)
	}
	id := publish(t, rdb, job.NewID(), "alice", job.Done, "", time.Now())
	// "dead" reads it and never comes back.
	if err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "web", Consumer: "dead", Streams: []string{stream, ">"}, Count: 1}).Err(); err != nil {
		t.Fatal(err)
	}
	f := &fakes{}
	start(t, rdb, f, "web-2", time.Now)
	settled(t, rdb, id)
	if _, mails, _ := f.snapshot(); len(mails) != 1 {
		t.Errorf("%d mails, want 1", len(mails))
	}
}

func TestNewRefusesIncompleteConfig(t *testing.T) {
	_, err := New(Config{})
	for _, want := range []string{"no Redis client", "no stream", "no sessions", "no directory", "no outbox", "no composer"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New(Config{}) = %v, want it to say %q", err, want)
		}
	}
}

// targetsOf is the per-target outcomes ldapsync publishes with an event:
// two targets, the second one refused when the job is partial.
func targetsOf(state job.State, reason job.Reason) string {
	second := job.TargetOutcome{Name: "lycees", Label: "la messagerie des lycées", State: state, Reason: reason}
	first := second
	first.Name, first.Label = "annuaire", "l’annuaire des usagers"
	if state == job.Partial {
		first.State, first.Reason, second.State = job.Done, "", job.Rejected
	}
	b, err := json.Marshal([]job.TargetOutcome{first, second})
	if err != nil {
		panic(err)
	}
	return string(b)
}
