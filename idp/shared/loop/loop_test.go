package loop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	var b backoff
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond,
		1600 * time.Millisecond, 3200 * time.Millisecond, 5 * time.Second, 5 * time.Second}
	for i, w := range want {
		if got := b.next(); got != w {
			t.Fatalf("pause %d = %s, want %s", i+1, got, w)
		}
	}
	b.reset()
	if got := b.next(); got != firstPause {
		t.Fatalf("pause after reset = %s, want %s", got, firstPause)
	}
}

// syncBuffer is a log sink the test reads while Run writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(s.b.Bytes()))
	for dec.More() {
		var r map[string]any
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// TestRun: failures are logged with the pause as text and retried after
// it, a success resets the pause, and Run returns once ctx is done.
func TestRun(t *testing.T) {
	var sink syncBuffer
	log := slog.New(slog.NewJSONHandler(&sink, nil))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// fail, fail, succeed, fail, then stop.
	results := []error{errors.New("down"), errors.New("down"), nil, errors.New("down again")}
	var calls int
	var at []time.Time
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, log, "test: unavailable", func(context.Context) error {
			at = append(at, time.Now())
			calls++
			if calls > len(results) {
				cancel()
				return errors.New("stopping") // once ctx is done: not logged
			}
			return results[calls-1]
		})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
	if calls != len(results)+1 {
		t.Fatalf("step called %d times, want %d", calls, len(results)+1)
	}
	recs := sink.records(t)
	var got []string
	for _, r := range recs {
		if r["msg"] != "test: unavailable" || r["level"] != "WARN" {
			t.Fatalf("unexpected record %v", r)
		}
		s, ok := r["retry_in"].(string)
		if !ok {
			t.Fatalf("retry_in is %T (%v), want a duration as text", r["retry_in"], r["retry_in"])
		}
		got = append(got, s)
	}
	want := []string{"100ms", "200ms", "100ms"} // reset by the success
	if len(got) != len(want) {
		t.Fatalf("logged pauses %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("logged pauses %v, want %v", got, want)
		}
	}
	if gap := at[1].Sub(at[0]); gap < firstPause {
		t.Fatalf("retried after %s, before the pause of %s", gap, firstPause)
	}
	if gap := at[3].Sub(at[2]); gap >= firstPause {
		t.Fatalf("a success was followed by a pause of %s", gap)
	}
}

func TestRunCancelledDuringPause(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, slog.New(slog.DiscardHandler), "x", func(context.Context) error { return errors.New("down") })
	}()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	cancel()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("Run kept sleeping after its context was cancelled")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Run returned %s after cancellation", d)
	}
}

func TestDuration(t *testing.T) {
	if a := Duration("retry_in", 1500*time.Millisecond); a.Key != "retry_in" || a.Value.String() != "1.5s" || a.Value.Kind() != slog.KindString {
		t.Fatalf("Duration = %v (%s)", a, a.Value.Kind())
	}
}
