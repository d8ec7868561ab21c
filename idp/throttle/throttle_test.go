package throttle_test

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
	"github.com/region-nouvelle-aquitaine/idp/idp/throttle"
)

// waitOut moves c, the fake clock the tests move instead of sleeping, to
// the end of the hold d brings, if any.
func waitOut(c *testenv.Clock, d throttle.Decision) {
	if d.Block.Kind != throttle.None {
		c.Set(d.Block.Until)
	}
}

// backend gives each limiter a fresh key space on one server.
type backend struct {
	name string
	new  func(tb testing.TB) func(tb testing.TB, now func() time.Time, p throttle.Policy) *throttle.Limiter
}

// Both servers: miniredis runs the Lua scripts in gopher-lua, redis-server
// in its own Lua; both must agree. Neither expires keys in these tests
// (miniredis never does by itself): decisions come from the fake clock.
var backends = []backend{
	{"miniredis", func(testing.TB) func(testing.TB, func() time.Time, throttle.Policy) *throttle.Limiter {
		return func(tb testing.TB, now func() time.Time, p throttle.Policy) *throttle.Limiter {
			return newLimiter(tb, miniredis.RunT(tb).Addr(), "throttle:", now, p)
		}
	}},
	{"redis", func(tb testing.TB) func(testing.TB, func() time.Time, throttle.Policy) *throttle.Limiter {
		r := testenv.StartRedis(tb)
		return func(tb testing.TB, now func() time.Time, p throttle.Policy) *throttle.Limiter {
			return newLimiter(tb, r.Addr, "t-"+store.NewID()+":", now, p)
		}
	}},
}

func newLimiter(tb testing.TB, addr, prefix string, now func() time.Time, p throttle.Policy) *throttle.Limiter {
	c := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{addr}})
	tb.Cleanup(func() { _ = c.Close() })
	return throttle.New(throttle.Options{Client: c, Prefix: prefix, Now: now, Policy: p})
}

// each runs fn against every backend with a fresh limiter and clock.
func each(t *testing.T, p throttle.Policy, fn func(t *testing.T, l *throttle.Limiter, c *testenv.Clock)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			c := testenv.NewClock(time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC))
			fn(t, b.new(t)(t, c.Now, p), c)
		})
	}
}

var (
	ctx    = context.Background()
	lycee  = netip.MustParseAddr("192.0.2.10")
	others = netip.MustParseAddr("198.51.100.7")
)

// attempt is what the sign-in does before the bind: the address first,
// then the account.
func attempt(t *testing.T, l *throttle.Limiter, account string, ip netip.Addr) throttle.Decision {
	t.Helper()
	b, err := l.CheckNetwork(ctx, ip)
	if err != nil {
		t.Fatalf("CheckNetwork: %v", err)
	}
	if b.Kind != throttle.None {
		return throttle.Decision{Block: b}
	}
	d, err := l.Attempt(ctx, throttle.Keys{Counter: account}, ip)
	if err != nil {
		t.Fatalf("Attempt: %v", err)
	}
	return d
}

// attemptKeys is Attempt for k from the lycée, without the address check.
func attemptKeys(t *testing.T, l *throttle.Limiter, k throttle.Keys) throttle.Decision {
	t.Helper()
	d, err := l.Attempt(ctx, k, lycee)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// fail is an attempt whose password was wrong.
func fail(t *testing.T, l *throttle.Limiter, account string, ip netip.Addr) throttle.Decision {
	t.Helper()
	d := attempt(t, l, account, ip)
	if err := l.Failed(ctx, d); err != nil {
		t.Fatalf("Failed: %v", err)
	}
	return d
}

func TestDefaults(t *testing.T) {
	p := throttle.New(throttle.Options{}).Policy()
	if p != throttle.DefaultPolicy() || p.LockAfter != 10 || p.LockDuration != 15*time.Minute || p.IPFailures != 100 {
		t.Fatalf("defaults = %+v", p)
	}
}

// TestSchedule: the hold each failure brings, and a refusal (not counted)
// for an attempt inside the hold.
func TestSchedule(t *testing.T) {
	t.Parallel()
	want := []struct {
		kind throttle.Kind
		wait time.Duration
	}{
		1: {throttle.None, 0}, 2: {throttle.None, 0}, 3: {throttle.None, 0}, 4: {throttle.None, 0},
		5: {throttle.Delay, time.Second}, 6: {throttle.Delay, 2 * time.Second}, 7: {throttle.Delay, 4 * time.Second},
		8: {throttle.Delay, 8 * time.Second}, 9: {throttle.Delay, 16 * time.Second},
		10: {throttle.Lock, 15 * time.Minute},
	}
	each(t, throttle.Policy{}, func(t *testing.T, l *throttle.Limiter, c *testenv.Clock) {
		for n := 1; n < len(want); n++ {
			d := attempt(t, l, "sub:alice", lycee)
			w := want[n]
			if !d.Allowed || d.Failures != n || d.Block.Kind != w.kind || (w.kind != throttle.None && !d.Block.Until.Equal(c.Now().Add(w.wait))) {
				t.Fatalf("failure %d: %+v, want %v until now+%s", n, d, w.kind, w.wait)
			}
			if w.kind == throttle.None {
				continue
			}
			// Inside the hold: refused, same hold, not counted (by the end
			// of a lock the failures that brought it leave the window).
			c.Advance(w.wait - time.Millisecond)
			if r := attempt(t, l, "sub:alice", lycee); r.Allowed || r.Block != d.Block || (w.kind == throttle.Delay && r.Failures != n) {
				t.Fatalf("inside the hold after failure %d: %+v, want refusal with %+v", n, r, d.Block)
			}
			c.Advance(time.Millisecond)
		}
	})
}

// TestMaxDelay: the doubling stops at MaxDelay.
func TestMaxDelay(t *testing.T) {
	t.Parallel()
	p := throttle.Policy{DelayAfter: 2, Delay: 10 * time.Second, MaxDelay: 25 * time.Second, LockAfter: 50}
	each(t, p, func(t *testing.T, l *throttle.Limiter, c *testenv.Clock) {
		for n, wait := range []time.Duration{0, 10 * time.Second, 20 * time.Second, 25 * time.Second, 25 * time.Second} {
			d := attempt(t, l, "sub:bob", lycee)
			if got := d.Block.Until.Sub(c.Now()); d.Block.Kind != throttle.None && got != wait || d.Failures != n+1 {
				t.Fatalf("failure %d: wait %s (%+v), want %s", n+1, got, d, wait)
			}
			c.Advance(wait)
		}
	})
}

// TestLockThenUnlock: 10 failures lock for 15 min, even the right password
// is not tried; after 15 min by the clock an attempt goes ahead, and a
// success forgets everything.
func TestLockThenUnlock(t *testing.T) {
	t.Parallel()
	each(t, throttle.Policy{}, func(t *testing.T, l *throttle.Limiter, c *testenv.Clock) {
		var d throttle.Decision
		for i := range 10 {
			d = attempt(t, l, "sub:carol", lycee)
			if i < 9 {
				waitOut(c, d) // wait out each delay
			}
		}
		if d.Block.Kind != throttle.Lock || d.Failures != 10 {
			t.Fatalf("10th failure: %+v, want a lock", d)
		}
		lockedAt := c.Now()
		for _, after := range []time.Duration{0, time.Minute, 15*time.Minute - time.Millisecond} {
			c.Set(lockedAt.Add(after))
			if r := attempt(t, l, "sub:carol", lycee); r.Allowed || r.Block.Kind != throttle.Lock {
				t.Fatalf("%s into the lock: %+v", after, r)
			}
		}
		c.Set(lockedAt.Add(15 * time.Minute))
		d = attempt(t, l, "sub:carol", lycee)
		if !d.Allowed || d.Failures != 1 || d.Block.Kind != throttle.None {
			t.Fatalf("after the lock: %+v, want allowed, the failures that locked out of the window", d)
		}
		if err := l.Succeeded(ctx, d); err != nil {
			t.Fatal(err)
		}
		if d = attempt(t, l, "sub:carol", lycee); !d.Allowed || d.Failures != 1 || d.Block.Kind != throttle.None {
			t.Fatalf("after a success: %+v, want a fresh count", d)
		}
	})
}

// TestTrickle: only failures of the last LockDuration count, so one
// failure every 15 min (or nine every 15 min) never locks, and a lock is
// not renewed by a single failure after it.
func TestTrickle(t *testing.T) {
	t.Parallel()
	each(t, throttle.Policy{}, func(t *testing.T, l *throttle.Limiter, c *testenv.Clock) {
		for i := range 40 {
			if d := attempt(t, l, "sub:dan", lycee); !d.Allowed || d.Failures != 1 || d.Block.Kind != throttle.None {
				t.Fatalf("trickle failure %d: %+v, want the only one in the window", i+1, d)
			}
			c.Advance(15 * time.Minute)
		}
		for round := range 3 {
			for i := range 9 {
				d := attempt(t, l, "sub:dan", lycee)
				if !d.Allowed || d.Failures != i+1 {
					t.Fatalf("round %d, failure %d: %+v", round, i+1, d)
				}
				waitOut(c, d)
			}
			c.Advance(15 * time.Minute)
		}
	})
}

// TestCeiling: two identifiers of one person each have their own visible
// counter; once the person's ceiling is reached through one, the other
// answers exactly as an unknown identifier (allowed, first failure, no
// hold), only Capped. Forget clears all of it.
func TestCeiling(t *testing.T) {
	t.Parallel()
	each(t, throttle.Policy{}, func(t *testing.T, l *throttle.Limiter, c *testenv.Clock) {
		try := func(k throttle.Keys) throttle.Decision { t.Helper(); return attemptKeys(t, l, k) }
		uid := throttle.Keys{Counter: throttle.IdentifierKey("uid-hash"), Account: throttle.AccountKey("gina")}
		mail := throttle.Keys{Counter: throttle.IdentifierKey("mail-hash"), Account: throttle.AccountKey("gina")}
		unknown := throttle.Keys{Counter: throttle.IdentifierKey("nobody-hash")}
		for i := range 10 {
			d := try(uid)
			if d.Capped {
				t.Fatalf("capped before the ceiling: %+v", d)
			}
			if i < 9 {
				waitOut(c, d)
			}
		}
		m, u := try(mail), try(unknown)
		if !m.Allowed || !m.Capped || u.Capped || m.Failures != u.Failures || m.Block != u.Block {
			t.Fatalf("mail after the uid's lock: %+v, unknown: %+v", m, u)
		}
		if err := l.Forget(ctx, uid.Counter, mail.Counter, uid.Account); err != nil {
			t.Fatal(err)
		}
		if d := try(uid); !d.Allowed || d.Capped || d.Failures != 1 {
			t.Fatalf("after Forget: %+v", d)
		}
	})
}

// TestRefusedLeavesTheCeiling: attempts the identifier's delay refuses do
// not count against the person, though both counters go in one round trip.
func TestRefusedLeavesTheCeiling(t *testing.T) {
	t.Parallel()
	each(t, throttle.Policy{}, func(t *testing.T, l *throttle.Limiter, c *testenv.Clock) {
		try := func(k throttle.Keys) throttle.Decision { t.Helper(); return attemptKeys(t, l, k) }
		uid := throttle.Keys{Counter: throttle.IdentifierKey("uid-hash"), Account: throttle.AccountKey("hugo")}
		mail := throttle.Keys{Counter: throttle.IdentifierKey("mail-hash"), Account: throttle.AccountKey("hugo")}
		var d throttle.Decision
		for range 5 {
			waitOut(c, d)
			d = try(uid)
		}
		for range 20 {
			if r := try(uid); r.Allowed {
				t.Fatalf("allowed during the identifier's delay: %+v", r)
			}
		}
		l.Wait() // the refused ones are taken back off the answers' path
		d = throttle.Decision{}
		for i := range 5 {
			waitOut(c, d)
			if d = try(mail); !d.Allowed || d.Capped {
				t.Fatalf("the other spelling's attempt %d: %+v (the refused ones counted against the person?)", i+1, d)
			}
		}
		waitOut(c, d)
		if d = try(mail); !d.Capped {
			t.Fatalf("ten failures of the person, not capped: %+v", d)
		}
	})
}

// TestCancel: an attempt whose password could not be checked leaves no
// trace, not even the lock it would have brought.
func TestCancel(t *testing.T) {
	t.Parallel()
	each(t, throttle.Policy{}, func(t *testing.T, l *throttle.Limiter, c *testenv.Clock) {
		for range 9 {
			d := attempt(t, l, "sub:erin", lycee)
			waitOut(c, d)
		}
		d := attempt(t, l, "sub:erin", lycee)
		if d.Block.Kind != throttle.Lock {
			t.Fatalf("10th: %+v", d)
		}
		if err := l.Cancel(ctx, d); err != nil {
			t.Fatal(err)
		}
		if d = attempt(t, l, "sub:erin", lycee); !d.Allowed || d.Failures != 10 {
			t.Fatalf("after Cancel: %+v, want the 10th failure again", d)
		}
		// Cancel of a first failure removes the account's record.
		first := attempt(t, l, "sub:frank", lycee)
		if err := l.Cancel(ctx, first); err != nil {
			t.Fatal(err)
		}
		if d := attempt(t, l, "sub:frank", lycee); d.Failures != 1 {
			t.Fatalf("after Cancel of the first: %+v", d)
		}
	})
}

// TestPerAddress: failures only count; 100 in 15 min block the address
// (whatever the account), not another; the window ends by the clock.
func TestPerAddress(t *testing.T) {
	t.Parallel()
	each(t, throttle.Policy{}, func(t *testing.T, l *throttle.Limiter, c *testenv.Clock) {
		// Successes are taken back: a busy lycée signs in freely.
		for i := range 150 {
			d := attempt(t, l, "id:pupil", lycee)
			if !d.Allowed {
				t.Fatalf("success %d refused: %+v", i, d)
			}
			if err := l.Succeeded(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		start := c.Now()
		for i := range 100 {
			if d := fail(t, l, "id:guess-"+string(rune('a'+i%26))+string(rune('a'+i/26)), lycee); !d.Allowed {
				t.Fatalf("failure %d refused: %+v", i+1, d)
			}
			c.Advance(time.Second)
		}
		d := attempt(t, l, "sub:someone-else", lycee)
		if d.Allowed || d.Block.Kind != throttle.Network || !d.Block.Until.Equal(start.Add(15*time.Minute)) {
			t.Fatalf("101st failure from the address: %+v", d)
		}
		if b, err := l.CheckNetwork(ctx, lycee); err != nil || b != d.Block {
			t.Fatalf("CheckNetwork = %+v %v, want %+v", b, err, d.Block)
		}
		if d := attempt(t, l, "sub:someone-else", others); !d.Allowed {
			t.Fatalf("another address: %+v", d)
		}
		c.Advance(start.Add(15 * time.Minute).Sub(c.Now()))
		if b, _ := l.CheckNetwork(ctx, lycee); b.Kind != throttle.None {
			t.Fatalf("window over, CheckNetwork = %+v", b)
		}
		if d := attempt(t, l, "sub:someone-else", lycee); !d.Allowed {
			t.Fatalf("window over: %+v", d)
		}
	})
}

// TestIPv6Prefix: addresses of one /64 share a count.
func TestIPv6Prefix(t *testing.T) {
	t.Parallel()
	p := throttle.Policy{IPFailures: 2}
	each(t, p, func(t *testing.T, l *throttle.Limiter, c *testenv.Clock) {
		fail(t, l, "id:a", netip.MustParseAddr("2001:db8:1:2::1"))
		fail(t, l, "id:b", netip.MustParseAddr("2001:db8:1:2:ffff::9"))
		if d := attempt(t, l, "id:c", netip.MustParseAddr("2001:db8:1:2::77")); d.Block.Kind != throttle.Network {
			t.Fatalf("same /64: %+v", d)
		}
		if d := attempt(t, l, "id:c", netip.MustParseAddr("2001:db8:1:3::1")); !d.Allowed {
			t.Fatalf("other /64: %+v", d)
		}
	})
}

// TestParallel: attempts racing on one account cannot slip past the first
// delay, because each is counted before its password is checked.
func TestParallel(t *testing.T) {
	t.Parallel()
	each(t, throttle.Policy{}, func(t *testing.T, l *throttle.Limiter, c *testenv.Clock) {
		var allowed atomic.Int32
		var wg sync.WaitGroup
		for range 40 {
			wg.Go(func() {
				if d, err := l.Attempt(ctx, throttle.Keys{Counter: "sub:target"}, lycee); err == nil && d.Allowed {
					allowed.Add(1)
				}
			})
		}
		wg.Wait()
		if got := allowed.Load(); got != 5 {
			t.Fatalf("%d parallel attempts went ahead, want 5 (the 5th brings the first delay)", got)
		}
	})
}

// TestKeysExpire: every key has a Redis TTL, for cleanup.
func TestKeysExpire(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	c := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{r.Addr}})
	t.Cleanup(func() { _ = c.Close() })
	l := throttle.New(throttle.Options{Client: c, Prefix: "ttl:"})
	fail(t, l, "sub:x", lycee)
	keys, err := c.Keys(ctx, "ttl:*").Result()
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys %v %v", keys, err)
	}
	for _, k := range keys {
		if ttl := c.PTTL(ctx, k).Val(); ttl <= 0 || ttl > 24*time.Hour+time.Minute {
			t.Errorf("%s TTL %s", k, ttl)
		}
	}
}

func BenchmarkAttempt(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			// A still clock: the account refused below stays refused.
			now := time.Now()
			l := be.new(b)(b, func() time.Time { return now }, throttle.Policy{IPFailures: 1 << 30})
			b.Run("success", func(b *testing.B) {
				for b.Loop() {
					d, err := l.Attempt(ctx, throttle.Keys{Counter: "sub:bench"}, lycee)
					if err != nil || !d.Allowed {
						b.Fatalf("%+v %v", d, err)
					}
					if err := l.Succeeded(ctx, d); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("refused", func(b *testing.B) {
				for range 10 {
					_, _ = l.Attempt(ctx, throttle.Keys{Counter: "sub:locked"}, lycee)
				}
				for b.Loop() {
					if d, err := l.Attempt(ctx, throttle.Keys{Counter: "sub:locked"}, lycee); err != nil || d.Allowed {
						b.Fatalf("%+v %v", d, err)
					}
				}
			})
			b.Run("check-network", func(b *testing.B) {
				for b.Loop() {
					if _, err := l.CheckNetwork(ctx, others); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// TestBusyAddressInFlight: a lycée's pupils behind one address, hundreds
// signing in at once, are never held back by their own successes still in
// flight: the address counts failures only, once they are known.
func TestBusyAddressInFlight(t *testing.T) {
	t.Parallel()
	each(t, throttle.Policy{}, func(t *testing.T, l *throttle.Limiter, c *testenv.Clock) {
		var refused atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		decisions := make([]throttle.Decision, 3*l.Policy().IPFailures)
		for i := range decisions {
			wg.Go(func() {
				<-start
				decisions[i] = attempt(t, l, fmt.Sprintf("id:pupil-%d", i), lycee)
				if !decisions[i].Allowed {
					refused.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		if n := refused.Load(); n != 0 {
			t.Fatalf("%d of %d valid sign-ins in flight from one address refused", n, len(decisions))
		}
		for _, d := range decisions {
			if err := l.Succeeded(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		if b, _ := l.CheckNetwork(ctx, lycee); b.Kind != throttle.None {
			t.Fatalf("after the successes: %+v", b)
		}
	})
}
