package ldapauth

import (
	"context"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"
)

// padder makes a bind for an identifier nobody has last as long as a
// wrong password for a real entry. slapd records each failure on a real
// entry (ppolicy pwdFailureTime, a write), so without padding the second
// is measurably slower and the response time tells whether an identifier
// exists.
//
// Why padding and not a decoy entry: a decoy would need an entry the
// operator creates and keeps unlockable, and under ppolicy every failed
// bind on it would pile up failure times (and lock it) at a rate no real
// entry sees, so its timing would drift away from real ones. Instead, as
// Authelia does, the fast path waits for a duration learned from the slow
// one: the durations of recent refused binds on real entries are kept, and
// a bind for nobody is stretched to one of them drawn at random, so the
// two paths have the same distribution, not merely the same mean, and the
// estimate follows the directory as it gets slower or faster.
type padder struct {
	mu   sync.Mutex
	seen [64]time.Duration // ring of recent refused binds on real entries
	n    int               // how many of seen are filled
	next int

	pick  func(n int) int // random index in [0, n); tests fix it
	sleep func(ctx context.Context, d time.Duration)
}

// maxPad bounds one wait, so a moment when the directory was very slow
// cannot hold requests for long.
const maxPad = 500 * time.Millisecond

func newPadder() *padder {
	return &padder{pick: rand.IntN, sleep: sleepCtx}
}

// record keeps the duration of a refused bind on a real entry.
func (p *padder) record(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen[p.next] = d
	p.next = (p.next + 1) % len(p.seen)
	p.n = min(p.n+1, len(p.seen))
}

// wait returns how much longer a bind for nobody that took elapsed must
// last: a recent slow-path duration drawn at random, minus elapsed; 0
// before anything was recorded.
func (p *padder) wait(elapsed time.Duration) time.Duration {
	p.mu.Lock()
	if p.n == 0 {
		p.mu.Unlock()
		return 0
	}
	target := p.seen[p.pick(p.n)]
	p.mu.Unlock()
	return min(max(target-elapsed, 0), maxPad)
}

// pad waits as wait says; the request's end stops it.
func (p *padder) pad(ctx context.Context, elapsed time.Duration) {
	if w := p.wait(elapsed); w > 0 {
		p.sleep(ctx, w)
	}
}

// sleepCtx waits d. Timers wake up a millisecond late or more on Linux
// (the poller counts in milliseconds), which is more than the gap being
// hidden, so the last 2 ms are spent yielding in a loop instead.
func sleepCtx(ctx context.Context, d time.Duration) {
	deadline := time.Now().Add(d)
	if coarse := d - 2*time.Millisecond; coarse > 0 {
		t := time.NewTimer(coarse)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
	for time.Now().Before(deadline) && ctx.Err() == nil {
		runtime.Gosched()
	}
}
