package testenv

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeTB records a failure instead of ending the test, so that Eventually's
// own failures can be checked.
type fakeTB struct {
	testing.TB
	ctx context.Context

	mu     sync.Mutex
	failed []string
}

func (f *fakeTB) Helper()                  {}
func (f *fakeTB) Context() context.Context { return f.ctx }
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failed = append(f.failed, fmt.Sprintf(format, args...))
}

func TestEventually(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
		cancel  bool // the test's context ends before the timeout
		holdsAt int  // cond holds from this call on; 0: never
		// wantFail is a part of the failure message; "" when none is wanted.
		wantFail  string
		wantCalls int // at least this many calls to cond
	}{
		{name: "holds at once", timeout: time.Second, holdsAt: 1, wantCalls: 1},
		{name: "holds after a few polls", timeout: 5 * time.Second, holdsAt: 5, wantCalls: 5},
		{name: "never holds", timeout: 100 * time.Millisecond, wantFail: "still not so after 100ms: not yet, call ", wantCalls: 3},
		{name: "test ends first", timeout: time.Minute, cancel: true, wantFail: "the test ended while waiting: not yet, call ", wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			f := &fakeTB{TB: t, ctx: ctx}
			calls := 0
			cond := func() (bool, string) {
				calls++
				if tt.cancel && calls == 2 {
					cancel()
				}
				if tt.holdsAt > 0 && calls >= tt.holdsAt {
					return true, ""
				}
				return false, fmt.Sprintf("not yet, call %d", calls)
			}

			begin := time.Now()
			Eventually(f, tt.timeout, cond)
			took := time.Since(begin)

			switch {
			case tt.wantFail == "" && len(f.failed) > 0:
				t.Errorf("failed: %q", f.failed)
			case tt.wantFail != "" && len(f.failed) != 1:
				t.Errorf("failures %q, want one containing %q", f.failed, tt.wantFail)
			case tt.wantFail != "" && !strings.Contains(f.failed[0], tt.wantFail):
				t.Errorf("failure %q, want it to contain %q", f.failed[0], tt.wantFail)
			case tt.wantFail != "" && !strings.HasSuffix(f.failed[0], fmt.Sprintf("call %d", calls)):
				t.Errorf("failure %q does not give the last reason (call %d)", f.failed[0], calls)
			}
			if calls < tt.wantCalls {
				t.Errorf("cond called %d times, want at least %d", calls, tt.wantCalls)
			}
			if tt.holdsAt > 0 && calls != tt.holdsAt {
				t.Errorf("cond called %d times, want exactly %d: it held from call %d", calls, tt.holdsAt, tt.holdsAt)
			}
			// A condition that holds soon is seen soon, and a timeout is kept.
			if limit := min(tt.timeout, time.Second) + time.Second; took > limit {
				t.Errorf("returned after %v, want under %v", took, limit)
			}
			if tt.wantFail != "" && !tt.cancel && took < tt.timeout {
				t.Errorf("gave up after %v, before the timeout of %v", took, tt.timeout)
			}
		})
	}
}
