package loop

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// handled is one call of the handler.
type handled struct {
	id         string
	deliveries int64
}

type fixture struct {
	mr    *miniredis.Miniredis
	rdb   *redis.Client
	g     *Group
	calls []handled
	// next decides each call's answer; nil: acknowledge and continue.
	next func(m redis.XMessage) Next
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	mr := miniredis.RunT(t)
	mr.SetTime(time.Unix(1_700_000_000, 0))
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	f := &fixture{mr: mr, rdb: rdb}
	f.g = &Group{
		Client: rdb, Stream: "s", Group: "g", Consumer: "c1", Block: 10 * time.Millisecond,
		// 1 minute after the first delivery, doubled after each further one.
		ClaimAfter: func(n int64) time.Duration { return time.Minute << max(n-1, 0) },
		Handle: func(ctx context.Context, m redis.XMessage, deliveries int64) (Next, error) {
			f.calls = append(f.calls, handled{m.ID, deliveries})
			if f.next != nil {
				return f.next(m), nil
			}
			return Continue, rdb.XAck(ctx, "s", "g", m.ID).Err()
		},
	}
	return f
}

func (f *fixture) add(t *testing.T, id string) {
	t.Helper()
	if err := f.rdb.XAdd(t.Context(), &redis.XAddArgs{Stream: "s", ID: id, Values: []any{"k", "v"}}).Err(); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) cycle(t *testing.T) []handled {
	t.Helper()
	f.calls = nil
	if err := f.g.cycle(t.Context()); err != nil {
		t.Fatal(err)
	}
	return f.calls
}

func TestGroupReadsFromTheStart(t *testing.T) {
	f := newFixture(t)
	f.add(t, "1-1") // before the group exists
	f.add(t, "2-1")
	if got, want := f.cycle(t), []handled{{"1-1", 1}, {"2-1", 1}}; !slices.Equal(got, want) {
		t.Fatalf("handled %v, want %v", got, want)
	}
	if got := f.cycle(t); len(got) != 0 {
		t.Fatalf("acknowledged entries handled again: %v", got)
	}
}

// TestGroupClaimsAfterItsDelay: an entry left pending is claimed again
// only once idle for ClaimAfter of its delivery count, with the count.
func TestGroupClaimsAfterItsDelay(t *testing.T) {
	f := newFixture(t)
	f.next = func(redis.XMessage) Next { return Continue } // never acknowledged
	f.add(t, "1-1")
	if got, want := f.cycle(t), []handled{{"1-1", 1}}; !slices.Equal(got, want) {
		t.Fatalf("handled %v, want %v", got, want)
	}
	steps := []struct {
		advance time.Duration
		want    []handled
	}{
		{59 * time.Second, nil},                   // not idle for 1 min yet
		{time.Second, []handled{{"1-1", 2}}},      // 1 min after the first delivery
		{90 * time.Second, nil},                   // the second waits 2 min
		{30 * time.Second, []handled{{"1-1", 3}}}, // 2 min after the second
	}
	now := time.Unix(1_700_000_000, 0)
	for i, s := range steps {
		now = now.Add(s.advance)
		f.mr.SetTime(now)
		if got := f.cycle(t); !slices.Equal(got, s.want) {
			t.Fatalf("step %d: handled %v, want %v", i+1, got, s.want)
		}
	}
}

// TestGroupWait: Wait leaves the rest of the batch pending, claimed again
// after its delay like any pending entry.
func TestGroupWait(t *testing.T) {
	f := newFixture(t)
	waited := false
	f.next = func(m redis.XMessage) Next {
		if !waited {
			waited = true
			return Wait
		}
		return Continue
	}
	f.add(t, "1-1")
	f.add(t, "2-1")
	if got, want := f.cycle(t), []handled{{"1-1", 1}}; !slices.Equal(got, want) {
		t.Fatalf("handled %v, want %v", got, want)
	}
	if got := f.cycle(t); len(got) != 0 {
		t.Fatalf("second cycle handled %v, want nothing (read already, not due)", got)
	}
	f.mr.SetTime(time.Unix(1_700_000_000, 0).Add(time.Hour))
	if got, want := f.cycle(t), []handled{{"1-1", 2}, {"2-1", 2}}; !slices.Equal(got, want) {
		t.Fatalf("claiming cycle handled %v, want %v", got, want)
	}
}

func TestGroupHandlerError(t *testing.T) {
	f := newFixture(t)
	boom := errors.New("redis down")
	f.g.Handle = func(context.Context, redis.XMessage, int64) (Next, error) { return Continue, boom }
	f.add(t, "1-1")
	if err := f.g.cycle(t.Context()); !errors.Is(err, boom) {
		t.Fatalf("cycle = %v, want the handler's error", err)
	}
}

// TestGroupRecreated: after the stream (and its group) is deleted, the
// failing cycle makes the next one create the group again.
func TestGroupRecreated(t *testing.T) {
	f := newFixture(t)
	f.add(t, "1-1")
	f.cycle(t)
	f.mr.Del("s")
	f.add(t, "2-1") // a new stream, without the group
	err := f.g.cycle(t.Context())
	if !IsRedisError(err, "NOGROUP") {
		t.Fatalf("cycle on a stream without group = %v, want NOGROUP", err)
	}
	if got, want := f.cycle(t), []handled{{"2-1", 1}}; !slices.Equal(got, want) {
		t.Fatalf("after recreation handled %v, want %v", got, want)
	}
}

// TestGroupRun: Run handles entries until cancelled, and survives Redis
// going away meanwhile.
func TestGroupRun(t *testing.T) {
	f := newFixture(t)
	got := make(chan string, 10)
	f.g.Handle = func(ctx context.Context, m redis.XMessage, _ int64) (Next, error) {
		got <- m.ID
		return Continue, f.rdb.XAck(ctx, "s", "g", m.ID).Err()
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); f.g.Run(ctx, slog.New(slog.DiscardHandler), "test") }()
	f.add(t, "1-1")
	expect := func(id string) {
		t.Helper()
		select {
		case g := <-got:
			if g != id {
				t.Fatalf("handled %s, want %s", g, id)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s not handled", id)
		}
	}
	expect("1-1")
	f.mr.FlushAll() // Redis restarted empty: NOGROUP, then the group again
	f.add(t, "2-1")
	expect("2-1")
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
}
