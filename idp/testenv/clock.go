package testenv

import (
	"sync"
	"time"
)

// Clock is a fake clock for code that takes its time from an injected Now
// (a store, a queue, a limiter, a worker): tests move it instead of sleeping,
// so expiry and back-off are tested exactly and fast. Its Now may be called
// from the code's own goroutines while the test moves it, hence the lock.
// The zero value is ready to use and reads the zero time.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock that reads start until it is moved.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start}
}

// Now returns the clock's time; pass the method value c.Now as the code's clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t, forward or back.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
