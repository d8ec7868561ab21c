package storetest

import (
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/store"
)

// strikeRule: 3 failures in a day hold the next ones off for an hour.
var strikeRule = store.StrikeRule{Window: 24 * time.Hour, Hold: time.Hour, Limit: 3}

// strikeAt sets the clock to start+at and strikes names: whether it was
// recorded and when the hold that refused it ends (relative to start, -1
// when recorded).
func strikeAt(t *testing.T, e *env, start time.Time, at time.Duration, names ...string) (*store.Strike, time.Duration) {
	t.Helper()
	e.clock.Advance(start.Add(at).Sub(e.clock.Now()))
	st, until, err := e.s.Strike(e.ctx, names, strikeRule)
	noErr(t, "Strike", err)
	if st != nil {
		if !until.IsZero() {
			t.Fatalf("at +%v: recorded, with a hold until %v", at, until)
		}
		return st, -1
	}
	return nil, until.Sub(start)
}

// testStrike: the failure that makes the limit in the window holds the
// next ones off for the hold, each one after it while they stay in the
// window holds again, and a retracted failure counts for nothing.
func testStrike(t *testing.T, e *env) {
	const minute = time.Minute
	steps := []struct {
		at    time.Duration
		until time.Duration // -1: recorded
	}{
		{0, -1},
		{1 * minute, -1},
		{2 * minute, -1}, // the third: held until +62 min
		{2 * minute, 62 * minute},
		{62*minute - time.Millisecond, 62 * minute},
		{62 * minute, -1}, // the fourth, still 3 in the window: another hour
		{62 * minute, 122 * minute},
	}
	name := "test:" + store.NewID()
	start := e.clock.Now()
	var last *store.Strike
	for i, s := range steps {
		st, until := strikeAt(t, e, start, s.at, name)
		if until != s.until {
			t.Fatalf("step %d at +%v: hold until +%v, want +%v", i, s.at, until, s.until)
		}
		if st != nil {
			last = st
		}
	}
	// Taking back the fourth lifts the hold it started.
	noErr(t, "Retract", e.s.Retract(e.ctx, last))
	if st, until := strikeAt(t, e, start, 62*minute, name); st == nil {
		t.Fatalf("after the retraction: held until +%v", until)
	}

	// A hold lasts its hour even when its oldest failure leaves the
	// window meanwhile.
	name = "test:" + store.NewID()
	start = e.clock.Now()
	for _, at := range []time.Duration{0, 23 * time.Hour, 23*time.Hour + 30*minute} {
		if st, until := strikeAt(t, e, start, at, name); st == nil {
			t.Fatalf("failure at +%v: held until +%v", at, until)
		}
	}
	if _, until := strikeAt(t, e, start, 24*time.Hour+10*minute, name); until != 24*time.Hour+30*minute {
		t.Fatalf("10 min after the oldest left the window: hold until +%v, want +24h30m", until)
	}
	if st, _ := strikeAt(t, e, start, 24*time.Hour+30*minute, name); st == nil {
		t.Fatal("once the hour is over: still held")
	}

	// The log keeps a TTL of at most its window and hold plus Slack.
	o := e.s.Options()
	ttl, err := o.Client.PTTL(e.ctx, o.Prefix+"rate:"+name).Result()
	noErr(t, "PTTL", err)
	if most := strikeRule.Window + strikeRule.Hold + o.Slack; ttl <= 0 || ttl > most {
		t.Errorf("TTL %v, want within (0, %v]", ttl, most)
	}
}

// testStrikeSeveral: one held counter refuses a strike in all of them,
// and records nothing in the others.
func testStrikeSeveral(t *testing.T, e *env) {
	address, person := "test:"+store.NewID(), "test:"+store.NewID()
	start := e.clock.Now()
	for i := range strikeRule.Limit {
		if st, until := strikeAt(t, e, start, time.Duration(i)*time.Minute, person); st == nil {
			t.Fatalf("failure %d of the person: held until +%v", i+1, until)
		}
	}
	for range 5 {
		if st, until := strikeAt(t, e, start, 10*time.Minute, address, person); st != nil || until != 62*time.Minute {
			t.Fatalf("address and held person: recorded %v, hold until +%v; want refused until +62m", st != nil, until)
		}
	}
	// The address alone still has all its failures to go.
	for i := range strikeRule.Limit {
		if st, until := strikeAt(t, e, start, 11*time.Minute, address); st == nil {
			t.Fatalf("failure %d of the address alone: held until +%v", i+1, until)
		}
	}
	if st, _ := strikeAt(t, e, start, 11*time.Minute, address); st != nil {
		t.Fatal("the address past its limit: recorded")
	}
}

// testStrikeConcurrent: parallel strikes at one instant record exactly
// the limit, none more, and leave the counters they all share held: over
// the same two counters (an address and its person), and over a shared
// counter with one of two others (a person's two addresses), where a
// strike one counter refused is taken back from the others.
func testStrikeConcurrent(t *testing.T, e *env) {
	const n = 50
	rule := store.StrikeRule{Window: 24 * time.Hour, Hold: time.Hour, Limit: 10}
	for _, shared := range []bool{false, true} {
		a, b, person := "test:"+store.NewID(), "test:"+store.NewID(), "test:"+store.NewID()
		namesOf := func(i int) []string {
			if shared && i%2 == 1 {
				return []string{b, person}
			}
			return []string{a, person}
		}
		strikes := make([]*store.Strike, n)
		errs := parallel(n, func(i int) error {
			var err error
			strikes[i], _, err = e.s.Strike(e.ctx, namesOf(i), rule)
			return err
		})
		got := 0
		for i, err := range errs {
			noErr(t, "Strike", err)
			if strikes[i] != nil {
				got++
			}
		}
		if got != rule.Limit {
			t.Fatalf("shared %v: %d strikes recorded at once, want %d", shared, got, rule.Limit)
		}
		st, until, err := e.s.Strike(e.ctx, []string{person}, rule)
		noErr(t, "Strike", err)
		if st != nil || !until.Equal(e.clock.Now().Add(rule.Hold)) {
			t.Errorf("shared %v, after the burst: recorded %v, hold until %v; want held until %v",
				shared, st != nil, until, e.clock.Now().Add(rule.Hold))
		}
	}
}

func testStrikeArguments(t *testing.T, e *env) {
	for _, tc := range []struct {
		names []string
		rule  store.StrikeRule
	}{
		{nil, strikeRule},
		{[]string{"test:args"}, store.StrikeRule{Window: 0, Hold: time.Hour, Limit: 1}},
		{[]string{"test:args"}, store.StrikeRule{Window: time.Hour, Hold: time.Microsecond, Limit: 1}},
		{[]string{"test:args"}, store.StrikeRule{Window: time.Hour, Hold: time.Hour, Limit: 0}},
	} {
		if _, _, err := e.s.Strike(e.ctx, tc.names, tc.rule); err == nil {
			t.Errorf("Strike %q with %+v: no error", tc.names, tc.rule)
		}
	}
	noErr(t, "Retract nil", e.s.Retract(e.ctx, nil))
}
