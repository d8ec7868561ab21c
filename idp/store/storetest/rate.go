package storetest

import (
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/store"
)

// rateStep is one call on a counter at a time relative to its case's start.
type rateStep struct {
	at    time.Duration
	peek  bool // Peek instead of Allow
	limit int  // 0: the case's limit
	// What the call must answer; retry is relative to the start, -1 for
	// the zero time (allowed now).
	allowed bool
	n       int64
	retry   time.Duration
}

// testRate: sliding windows on the logical clock, exact at every instant.
func testRate(t *testing.T, e *env) {
	const minute = time.Minute
	tests := []struct {
		name   string
		window time.Duration
		limit  int
		// align moves the start to this far before the next multiple of
		// the window, where a fixed window would have started afresh.
		align time.Duration
		steps []rateStep
	}{
		{
			name: "the limit is reached, then refused until the oldest leaves", window: 15 * minute, limit: 3,
			steps: []rateStep{
				{at: 0, allowed: true, n: 1, retry: -1},
				{at: 0, allowed: true, n: 2, retry: -1},
				{at: 0, allowed: true, n: 3, retry: -1},
				{at: 0, n: 3, retry: 15 * minute},
				{at: 15*minute - time.Millisecond, n: 3, retry: 15 * minute},
			},
		},
		{
			name: "refused attempts are not recorded: the retry time does not move", window: 15 * minute, limit: 3,
			steps: []rateStep{
				{at: 0, allowed: true, n: 1, retry: -1},
				{at: 1 * minute, allowed: true, n: 2, retry: -1},
				{at: 2 * minute, allowed: true, n: 3, retry: -1},
				{at: 5 * minute, n: 3, retry: 15 * minute},
				{at: 10 * minute, n: 3, retry: 15 * minute},
				{at: 14 * minute, n: 3, retry: 15 * minute},
				{at: 15 * minute, allowed: true, n: 3, retry: -1},
				{at: 15 * minute, n: 3, retry: 16 * minute},
			},
		},
		{
			name: "events leave one by one, each exactly one window after it", window: 15 * minute, limit: 3,
			steps: []rateStep{
				{at: 0, allowed: true, n: 1, retry: -1},
				{at: 1 * minute, allowed: true, n: 2, retry: -1},
				{at: 2 * minute, allowed: true, n: 3, retry: -1},
				{at: 15*minute - time.Millisecond, peek: true, n: 3, retry: 15 * minute},
				{at: 15 * minute, peek: true, n: 2, retry: -1},
				{at: 16*minute - time.Millisecond, peek: true, n: 2, retry: -1},
				{at: 16 * minute, peek: true, n: 1, retry: -1},
				{at: 17 * minute, peek: true, n: 0, retry: -1},
			},
		},
		{
			name: "no burst across what was a fixed window's boundary", window: 15 * minute, limit: 3, align: minute,
			steps: []rateStep{
				{at: 0, allowed: true, n: 1, retry: -1}, // 14:59
				{at: 0, allowed: true, n: 2, retry: -1},
				{at: 0, allowed: true, n: 3, retry: -1},
				{at: 2 * minute, n: 3, retry: 15 * minute}, // 15:01
				{at: 2 * minute, peek: true, n: 3, retry: 15 * minute},
				{at: 14 * minute, n: 3, retry: 15 * minute},
				{at: 15 * minute, allowed: true, n: 1, retry: -1},
			},
		},
		{
			name: "a day's window does the same", window: 24 * time.Hour, limit: 10, align: time.Hour,
			steps: func() []rateStep {
				var s []rateStep
				for i := range 10 {
					s = append(s, rateStep{at: time.Duration(i) * minute, allowed: true, n: int64(i + 1), retry: -1})
				}
				return append(s,
					rateStep{at: 2 * time.Hour, n: 10, retry: 24 * time.Hour},
					rateStep{at: 24*time.Hour + 30*time.Second, allowed: true, n: 10, retry: -1},
					rateStep{at: 24*time.Hour + 30*time.Second, n: 10, retry: 24*time.Hour + minute},
				)
			}(),
		},
		{
			name: "Peek never records", window: time.Hour, limit: 2,
			steps: []rateStep{
				{at: 0, peek: true, n: 0, retry: -1},
				{at: 0, peek: true, n: 0, retry: -1},
				{at: 1 * minute, allowed: true, n: 1, retry: -1},
				{at: 2 * minute, peek: true, n: 1, retry: -1},
				{at: 2 * minute, peek: true, n: 1, retry: -1},
				{at: 3 * minute, allowed: true, n: 2, retry: -1},
				{at: 4 * minute, peek: true, n: 2, retry: 61 * minute},
				{at: 4 * minute, peek: true, n: 2, retry: 61 * minute},
				{at: 61 * minute, peek: true, n: 1, retry: -1},
				{at: 63 * minute, peek: true, n: 0, retry: -1},
			},
		},
		{
			name: "with a lower limit, enough events must leave", window: time.Hour, limit: 3,
			steps: []rateStep{
				{at: 0, allowed: true, n: 1, retry: -1},
				{at: 1 * minute, allowed: true, n: 2, retry: -1},
				{at: 2 * minute, allowed: true, n: 3, retry: -1},
				{at: 3 * minute, limit: 2, peek: true, n: 3, retry: 61 * minute},
				{at: 3 * minute, limit: 1, n: 3, retry: 62 * minute},
				{at: 60 * minute, limit: 2, n: 2, retry: 61 * minute},
				{at: 61 * minute, limit: 2, allowed: true, n: 2, retry: -1},
			},
		},
	}
	o := e.s.Options()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := "test:" + store.NewID()
			if tc.align > 0 {
				now := e.clock.Now()
				e.clock.Advance(now.Truncate(tc.window).Add(tc.window - tc.align).Sub(now))
			}
			start := e.clock.Now()
			for i, st := range tc.steps {
				e.clock.Advance(start.Add(st.at).Sub(e.clock.Now()))
				limit := tc.limit
				if st.limit > 0 {
					limit = st.limit
				}
				var (
					allowed bool
					n       int64
					retryAt time.Time
					err     error
				)
				if st.peek {
					n, retryAt, err = e.s.Peek(e.ctx, name, tc.window, limit)
				} else {
					allowed, n, retryAt, err = e.s.Allow(e.ctx, name, tc.window, limit)
				}
				noErr(t, "rate", err)
				want := time.Time{}
				if st.retry >= 0 {
					want = start.Add(st.retry)
				}
				if allowed != st.allowed || n != st.n || !retryAt.Equal(want) {
					t.Fatalf("step %d at +%v (peek %v): allowed %v n %d retry %v; want %v %d %v",
						i, st.at, st.peek, allowed, n, retryAt, st.allowed, st.n, want)
				}
			}
			// The log keeps a TTL of at most its window plus Slack, and
			// disappears once empty.
			key := o.Prefix + "rate:" + name
			ttl, err := o.Client.PTTL(e.ctx, key).Result()
			noErr(t, "PTTL", err)
			last := tc.steps[len(tc.steps)-1]
			switch exists := o.Client.Exists(e.ctx, key).Val() == 1; {
			case last.n == 0 && exists:
				t.Errorf("key %s still exists with nothing in the window", key)
			case last.n > 0 && (ttl <= 0 || ttl > tc.window+o.Slack):
				t.Errorf("key %s has TTL %v, want within (0, %v]", key, ttl, tc.window+o.Slack)
			}
		})
	}
}

// testRateConcurrent: parallel Allow calls at one instant record exactly
// the limit, none more.
func testRateConcurrent(t *testing.T, e *env) {
	const n, limit = 50, 10
	name := "test:" + store.NewID()
	allowed := make([]bool, n)
	errs := parallel(n, func(i int) error {
		var err error
		allowed[i], _, _, err = e.s.Allow(e.ctx, name, time.Hour, limit)
		return err
	})
	got := 0
	for i, err := range errs {
		noErr(t, "Allow", err)
		if allowed[i] {
			got++
		}
	}
	c, retryAt, err := e.s.Peek(e.ctx, name, time.Hour, limit)
	noErr(t, "Peek", err)
	if got != limit || c != limit || !retryAt.Equal(e.clock.Now().Add(time.Hour)) {
		t.Fatalf("%d allowed, %d counted, retry %v; want %d, %d, %v", got, c, retryAt, limit, limit, e.clock.Now().Add(time.Hour))
	}
}

func testRateArguments(t *testing.T, e *env) {
	for _, tc := range []struct {
		window time.Duration
		limit  int
	}{{0, 1}, {-time.Minute, 1}, {time.Microsecond, 1}, {time.Minute, 0}, {time.Minute, -1}} {
		if _, _, _, err := e.s.Allow(e.ctx, "test:args", tc.window, tc.limit); err == nil {
			t.Errorf("Allow with window %v limit %d: no error", tc.window, tc.limit)
		}
		if _, _, err := e.s.Peek(e.ctx, "test:args", tc.window, tc.limit); err == nil {
			t.Errorf("Peek with window %v limit %d: no error", tc.window, tc.limit)
		}
	}
}
