package throttle

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// CounterState is where one counter stands, for the admin commands.
type CounterState struct {
	// Failures counted in the window (LockDuration) ending now.
	Failures int
	// Block is the hold in force now: None, Delay or Lock until a time.
	Block Block
	// LastFailure is the most recent failure in the window; zero if none.
	LastFailure time.Time
}

// State reads a counter (IdentifierKey, AccountKey, DeviceKey) without
// counting anything.
func (l *Limiter) State(ctx context.Context, name string) (CounterState, error) {
	v, err := l.c.HMGet(ctx, l.key(name), "f", "until", "lock").Result()
	if err != nil {
		return CounterState{}, fmt.Errorf("throttle: read counter: %w", err)
	}
	now := l.now().UnixMilli()
	var st CounterState
	f, _ := v[0].(string)
	for _, t := range strings.Fields(f) {
		ms, err := strconv.ParseInt(t, 10, 64)
		if err == nil && now-ms < l.p.LockDuration.Milliseconds() {
			st.Failures++
			if at := time.UnixMilli(ms); at.After(st.LastFailure) {
				st.LastFailure = at
			}
		}
	}
	if until := int64Of(v[1]); until > now {
		st.Block = l.block(int64Of(v[2]) == 1, until)
	}
	return st, nil
}
