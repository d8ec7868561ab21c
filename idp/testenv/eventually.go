package testenv

import (
	"testing"
	"time"
)

// Poll intervals of Eventually: the first check comes at once, the next
// ones back off from pollFirst to pollMax, so a condition that holds soon is
// seen within milliseconds and a slow one does not keep two busy cores
// spinning.
const (
	pollFirst = time.Millisecond
	pollMax   = 50 * time.Millisecond
)

// Eventually calls cond until it reports ok, and fails the test (Fatalf)
// when timeout passes first or the test's context ends. cond says why it
// does not hold yet; the failure message gives the last of these reasons, so
// that a timeout reads as what was still wrong, not just "timed out".
//
// Call it from the test's goroutine, like t.Fatalf. A value that cond finds
// is passed out through a variable the closure captures.
func Eventually(t testing.TB, timeout time.Duration, cond func() (ok bool, why string)) {
	t.Helper()
	ctx := t.Context()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	interval := pollFirst
	for {
		ok, why := cond()
		if ok {
			return
		}
		wait := time.NewTimer(interval)
		select {
		case <-wait.C:
		case <-timer.C:
			wait.Stop()
			// One last look: the condition may have become true while we slept.
			if ok, why = cond(); ok {
				return
			}
			t.Fatalf("still not so after %v: %s", timeout, why)
			return
		case <-ctx.Done():
			wait.Stop()
			t.Fatalf("the test ended while waiting: %s", why)
			return
		}
		interval = min(2*interval, pollMax)
	}
}
