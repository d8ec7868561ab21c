package queueadmin_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/queueadmin"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// fixture is a queue on redis-server with three changes of three people:
// one waiting for its retry after a failed attempt, one settled failed,
// one settled partial.
type fixture struct {
	q                         *job.Queue
	retrying, failed, partial string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	ctx := context.Background()
	q := job.NewQueue(job.Options{Client: testenv.StartRedis(t).Client(t), Prefix: "test:"})
	f := fixture{q: q}
	enqueue := func(login string) string {
		j := job.Job{
			ID: job.NewID(), Subject: "sub-" + login, Login: login, Sealed: []byte("sealed-secret-bytes"),
			CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour),
		}
		if err := q.Enqueue(ctx, j); err != nil {
			t.Fatal(err)
		}
		return j.ID
	}
	claim := func() *job.Job {
		j, err := q.Claim(ctx, "worker-1", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	targets := func(second job.State) []job.TargetOutcome {
		return []job.TargetOutcome{
			{Name: "usagers", Label: "l’annuaire des usagers", State: job.Done},
			{Name: "agents", Label: "l’annuaire des agents", State: second, Reason: job.ReasonUnavailable},
		}
	}
	f.retrying = enqueue("jretry")
	j := claim()
	if err := q.Retry(ctx, j, time.Now().Add(time.Hour), job.ReasonUnavailable); err != nil {
		t.Fatal(err)
	}
	f.failed = enqueue("jfail")
	if err := q.Complete(ctx, claim(), job.Status{State: job.Failed, Reason: job.ReasonNoSuchUser}); err != nil {
		t.Fatal(err)
	}
	f.partial = enqueue("jpartial")
	if err := q.Complete(ctx, claim(), job.Status{State: job.Partial, Reason: job.ReasonUnavailable, Targets: targets(job.Failed)}); err != nil {
		t.Fatal(err)
	}
	return f
}

// run runs `ldapsync admin args…` on f's queue as operator alice.
func (f fixture) run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return f.runAs(t, "alice", args...)
}

// runAs runs with $USER set to user ("": unset).
func (f fixture) runAs(t *testing.T, user string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errs bytes.Buffer
	env := func(k string) (string, bool) { return user, k == "USER" && user != "" }
	open := func(_ context.Context, path string, stderr io.Writer) (*job.Queue, *slog.Logger, func(), error) {
		if path != "ldapsync.yaml" {
			return nil, nil, nil, errors.New("unexpected path " + path)
		}
		return f.q, slog.New(slog.NewJSONHandler(stderr, nil)), func() {}, nil
	}
	code = queueadmin.Dispatch(context.Background(), "ldapsync", queueadmin.ChangeCommands(), args, &out, &errs, env, open)
	return code, out.String(), errs.String()
}

func TestChangeCommands(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()

	code, out, _ := f.run(t, "changes", "list", "--config", "ldapsync.yaml")
	if code != 0 {
		t.Fatalf("list: exit %d", code)
	}
	for _, want := range []string{
		"In the queue: 1", f.retrying + "  login=jretry", "last_reason=unavailable",
		"Failed or partial since", ": 2\n", f.failed + "  sub=sub-jfail  failed", "reason=no_such_user",
		f.partial + "  sub=sub-jpartial  partial", "directories=usagers=done,agents=failed(unavailable)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "sealed-secret") {
		t.Errorf("list shows the sealed password:\n%s", out)
	}

	code, out, _ = f.run(t, "changes", "show", f.retrying, "--config", "ldapsync.yaml")
	if code != 0 || !strings.Contains(out, "login: jretry") || !strings.Contains(out, "state: queued") || strings.Contains(out, "sealed-secret") {
		t.Errorf("show: exit %d\n%s", code, out)
	}

	// Settled changes cannot come back: their sealed password is gone.
	for _, cmd := range []string{"requeue", "drop"} {
		code, _, errs := f.run(t, "changes", cmd, "--config", "ldapsync.yaml", f.failed)
		if code != 1 || !strings.Contains(errs, "settled already") || strings.Contains(errs, "admin.change") {
			t.Errorf("%s of a settled change: exit %d, stderr %s", cmd, code, errs)
		}
	}

	code, out, errs := f.run(t, "changes", "requeue", "--config", "ldapsync.yaml", "--operator", "bob", f.retrying)
	if code != 0 || !strings.Contains(out, "Requeued change "+f.retrying+" (login jretry)") {
		t.Fatalf("requeue: exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(errs, `"audit":"admin.change.requeued"`) || !strings.Contains(errs, `"operator":"bob"`) || !strings.Contains(errs, f.retrying) {
		t.Errorf("requeue audit line: %s", errs)
	}
	// Requeued once: nothing new was queued beside it.
	if waiting, _, err := f.q.Counts(ctx); err != nil || waiting != 1 {
		t.Errorf("after requeue: %d waiting, %v", waiting, err)
	}
	j, err := f.q.Claim(ctx, "worker-2", time.Minute)
	if err != nil || j.ID != f.retrying || j.Attempt != 1 || string(j.Sealed) != "sealed-secret-bytes" {
		t.Fatalf("claim after requeue: %+v, %v", j, err)
	}
	// Held by a worker now: neither requeued nor dropped under its feet.
	for _, cmd := range []string{"requeue", "drop"} {
		if code, _, errs := f.run(t, "changes", cmd, "--config", "ldapsync.yaml", f.retrying); code != 1 || !strings.Contains(errs, "being written by a worker") {
			t.Errorf("%s of a held change: exit %d, %s", cmd, code, errs)
		}
	}
	if err := f.q.Retry(ctx, j, time.Now().Add(time.Hour), job.ReasonUnavailable); err != nil {
		t.Fatal(err)
	}

	code, out, errs = f.run(t, "changes", "drop", "--config", "ldapsync.yaml", f.retrying)
	if code != 0 || !strings.Contains(out, "settled as failed/cancelled") || !strings.Contains(errs, `"audit":"admin.change.dropped"`) || !strings.Contains(errs, `"operator":"alice"`) {
		t.Fatalf("drop: exit %d\n%s%s", code, out, errs)
	}
	st, err := f.q.Status(ctx, f.retrying)
	if err != nil || st.State != job.Failed || st.Reason != job.ReasonCancelled {
		t.Errorf("status after drop: %+v, %v", st, err)
	}
	if _, err := f.q.Claim(ctx, "worker-2", time.Minute); !errors.Is(err, job.ErrEmpty) {
		t.Errorf("claim after drop: %v, want empty", err)
	}
	// The person may queue a new change now.
	if err := f.q.Enqueue(ctx, job.Job{ID: job.NewID(), Subject: "sub-jretry", Login: "jretry", Sealed: []byte("x"), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Errorf("enqueue after drop: %v", err)
	}
}

func TestDispatchCommandLine(t *testing.T) {
	f := fixture{}
	for _, tc := range []struct {
		name string
		user string
		args []string
		code int
		out  string // in stdout, or in stderr when the exit code is not 0
	}{
		{"no command", "alice", nil, 2, "usage: ldapsync admin COMMAND"},
		{"help", "alice", []string{"help"}, 0, "changes requeue ID"},
		{"unknown", "alice", []string{"changes", "frobnicate"}, 2, "unknown command"},
		{"command help", "alice", []string{"changes", "requeue", "--help"}, 0, "usage: ldapsync admin changes requeue --config FILE [flags] ID"},
		{"no config", "alice", []string{"changes", "list"}, 2, "--config FILE is required"},
		{"missing id", "alice", []string{"changes", "show", "--config", "ldapsync.yaml"}, 2, "expected 1 argument"},
		{"extra argument", "alice", []string{"changes", "list", "x", "--config", "ldapsync.yaml"}, 2, "expected 0 argument"},
		{"bad flag", "alice", []string{"changes", "list", "--since", "soon", "--config", "ldapsync.yaml"}, 2, "invalid value"},
		{"unreadable config", "", []string{"changes", "list", "--config", "other.yaml"}, 1, "unexpected path"},
		{"change without operator", "", []string{"changes", "drop", "x", "--config", "ldapsync.yaml"}, 2, "--operator NAME is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := f.runAs(t, tc.user, tc.args...)
			if tc.code != 0 {
				out = errs
			}
			if code != tc.code || !strings.Contains(out, tc.out) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s", code, tc.code, tc.out, out)
			}
		})
	}
}
