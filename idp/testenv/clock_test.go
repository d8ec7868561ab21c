package testenv

import (
	"sync"
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	t.Run("zero value", func(t *testing.T) {
		var c Clock
		if got := c.Now(); !got.IsZero() {
			t.Fatalf("Now() = %v, want the zero time", got)
		}
		c.Advance(time.Second)
		if got, want := c.Now(), (time.Time{}).Add(time.Second); !got.Equal(want) {
			t.Errorf("after Advance: %v, want %v", got, want)
		}
	})

	t.Run("moves only when told", func(t *testing.T) {
		start := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
		c := NewClock(start)
		if got := c.Now(); !got.Equal(start) {
			t.Fatalf("Now() = %v, want %v", got, start)
		}
		c.Advance(90 * time.Second)
		if got, want := c.Now(), start.Add(90*time.Second); !got.Equal(want) {
			t.Errorf("after Advance: %v, want %v", got, want)
		}
		c.Set(start.Add(-time.Hour))
		if got, want := c.Now(), start.Add(-time.Hour); !got.Equal(want) {
			t.Errorf("after Set: %v, want %v", got, want)
		}
	})

	// Run with -race: the code under test reads Now from its own goroutines
	// while the test moves the clock.
	t.Run("concurrent use", func(t *testing.T) {
		start := time.Date(2031, time.March, 4, 5, 6, 7, 0, time.UTC)
		c := NewClock(start)
		now := c.Now // as handed to the code under test
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 100 {
					c.Advance(time.Millisecond)
					_ = now()
				}
			})
		}
		wg.Wait()
		if got, want := c.Now(), start.Add(800*time.Millisecond); !got.Equal(want) {
			t.Errorf("Now() = %v, want %v", got, want)
		}
		c.Set(start)
		if got := now(); !got.Equal(start) {
			t.Errorf("after Set: %v, want %v", got, start)
		}
	})
}

func TestRunningClock(t *testing.T) {
	c := NewRunningClock()
	within := func(t *testing.T, got, want time.Time) {
		t.Helper()
		if d := got.Sub(want).Abs(); d > time.Second {
			t.Errorf("Now() = %v, want about %v", got, want)
		}
	}

	before := time.Now()
	within(t, c.Now(), before)

	// It follows the wall clock: two reads a few milliseconds apart differ.
	first := c.Now()
	time.Sleep(5 * time.Millisecond)
	if second := c.Now(); !second.After(first) {
		t.Errorf("a running clock stood still: %v then %v", first, second)
	}

	c.Advance(time.Hour)
	within(t, c.Now(), time.Now().Add(time.Hour))

	target := time.Date(2031, time.March, 4, 5, 6, 7, 0, time.UTC)
	c.Set(target)
	within(t, c.Now(), target)
	c.Advance(time.Minute)
	within(t, c.Now(), target.Add(time.Minute))
}
