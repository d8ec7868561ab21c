package ldapsync

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestDirectoryDown: while slapd is stopped the job is retried with
// backoff (10 s, then 20 s, ...) and shows "unavailable"; it completes once
// slapd is back, or fails truthfully past the retry limit.
func TestDirectoryDown(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		downFor   int // failed attempts before slapd returns (never: > RetryLimit)
		wantState job.State
	}{
		{"back in time", 2, job.Done},
		{"past the retry limit", 4, job.Failed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testenv.SlapdOptions{})
			start(t, e.worker("w", nil)) // RetryLimit 3, backoff 10 s doubling
			sub := e.s.EntryUUID(t, "jdupont")
			e.s.Stop(t)
			j := e.submitAs(t, sub, "jdupont", "Nouveau-mot-de-passe-1", e.sealer)

			backoff := 10 * time.Second
			for attempt := 1; attempt <= tc.downFor && attempt <= 3; attempt++ {
				st := e.waitFor(t, j.ID, fmt.Sprintf("retried after attempt %d", attempt),
					func(st job.Status) bool { return st.Attempts == attempt && st.State == job.Queued })
				if st.Reason != job.ReasonUnavailable {
					t.Fatalf("while down: %+v", st)
				}
				// Not due before its backoff.
				e.clk.Advance(backoff - time.Second)
				time.Sleep(50 * time.Millisecond)
				if st, _ := e.q.Status(context.Background(), j.ID); st.Attempts != attempt {
					t.Fatalf("attempt %d came before its backoff of %v", st.Attempts, backoff)
				}
				if attempt == tc.downFor {
					e.s.Start(t) // back before the next attempt is due
				}
				e.clk.Advance(time.Second)
				backoff *= 2
			}
			st := e.waitSettled(t, j.ID)
			e.s.Start(t)
			switch tc.wantState {
			case job.Done:
				if st.State != job.Done || st.Attempts != tc.downFor+1 {
					t.Fatalf("status = %+v, want done after %d attempts", st, tc.downFor+1)
				}
				if !e.s.Binds(t, "jdupont", "Nouveau-mot-de-passe-1") || e.s.Binds(t, "jdupont", seeded("jdupont").Password) {
					t.Error("the password was not changed")
				}
			case job.Failed:
				if st.State != job.Failed || st.Reason != job.ReasonUnavailable || st.Attempts != 4 {
					t.Fatalf("status = %+v, want failed/unavailable after 4 attempts", st)
				}
				if !e.s.Binds(t, "jdupont", seeded("jdupont").Password) || e.s.Binds(t, "jdupont", "Nouveau-mot-de-passe-1") {
					t.Error("failed, yet the password changed")
				}
			}
			if !strings.Contains(e.logs.String(), "will retry") {
				t.Error("no retry was logged")
			}
		})
	}
}

// TestConcurrentWorkers: four workers drain 24 jobs; every job is written
// exactly once and settled once.
func TestConcurrentWorkers(t *testing.T) {
	t.Parallel()
	const people = 24
	var ldif strings.Builder
	for i := range people {
		fmt.Fprintf(&ldif, "dn: uid=p%02d,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: p%02d\ncn: P %02d\nsn: P\nmail: p%02d@example.org\nuserPassword: Initial-password-%02d\n\n", i, i, i, i, i)
	}
	e := newEnv(t, testenv.SlapdOptions{ExtraLDIF: ldif.String()})
	var jobs []job.Job
	for i := range people {
		jobs = append(jobs, e.submit(t, fmt.Sprintf("p%02d", i), fmt.Sprintf("Nouveau-mot-de-passe-%02d", i)))
	}
	counting := &stepWriter{Writer: e.dir, reached: make(chan struct{})}
	for i := range 4 {
		start(t, e.worker(fmt.Sprintf("w%d", i), func(w *Worker) { w.Writer = counting }))
	}
	for _, j := range jobs {
		if st := e.waitSettled(t, j.ID); st.State != job.Done || st.Attempts != 1 {
			t.Errorf("job %s: %+v", j.ID, st)
		}
	}
	if n := counting.writes.Load(); n != people {
		t.Errorf("%d writes for %d jobs", n, people)
	}
	counting.writesByDN.Range(func(dn, n any) bool {
		if n.(*atomic.Int32).Load() != 1 {
			t.Errorf("%s written %d times", dn, n.(*atomic.Int32).Load())
		}
		return true
	})
	if n := e.rdb.XLen(context.Background(), e.q.EventsStream()).Val(); n != people {
		t.Errorf("%d events for %d jobs", n, people)
	}
	for i := range people {
		if !e.s.Binds(t, fmt.Sprintf("p%02d", i), fmt.Sprintf("Nouveau-mot-de-passe-%02d", i)) {
			t.Errorf("p%02d: the new password does not bind", i)
		}
	}
}
