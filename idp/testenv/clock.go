package testenv

import (
	"sync"
	"time"
)

// Clock is a fake clock for code that takes its time from an injected Now
// (a store, a queue, a limiter, a worker): tests move it instead of sleeping,
// so expiry and back-off are tested exactly and fast. Its Now may be called
// from the code's own goroutines while the test moves it, hence the lock.
//
// A clock is either stopped (NewClock, or the zero value, which reads the
// zero time): it reads what it was set to until moved; or running
// (NewRunningClock): it follows the wall clock plus whatever it was moved
// by, for a whole stack whose background workers must see time pass while
// the test still jumps over expiry delays.
type Clock struct {
	mu      sync.Mutex
	running bool
	now     time.Time     // what a stopped clock reads
	offset  time.Duration // what a running clock adds to the wall clock
}

// NewClock returns a stopped clock that reads start until it is moved.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start}
}

// NewRunningClock returns a clock that follows the wall clock until it is moved.
func NewRunningClock() *Clock {
	return &Clock{running: true}
}

// Now returns the clock's time; pass the method value c.Now as the code's clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		return time.Now().Add(c.offset)
	}
	return c.now
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		c.offset += d
		return
	}
	c.now = c.now.Add(d)
}

// Set moves the clock to t, forward or back; a running clock goes on from t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		c.offset = time.Until(t)
		return
	}
	c.now = t
}
