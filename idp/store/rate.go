package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// A rate counter is a sliding-window log: one sorted set per name, one
// member per recorded event, scored with the logical time of the event (ms).
// Counting what the set holds after dropping what left the window gives the
// exact number of events in the last window, whatever the boundaries: fixed
// windows let twice the limit through across one.

// allowScript: KEYS[1] log; ARGV now ms, cutoff ms (now − window: an event
// scored at or before it is out), limit, record (1 = add if below the limit,
// 0 = only look), member, ttl ms (window + Slack, so the newest event
// outlives its window).
// Returns {recorded (0|1), count after, score of the event whose leaving
// frees a place ("" when there is room)}.
var allowScript = redis.NewScript(luaAllow + `
return allow(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
`)

// Allow records one event of the counter name at the logical now if fewer
// than limit events are in the window ending now, and returns whether it did,
// the count after, and when the next event will be allowed: the zero time
// when there is room now, else the moment the event holding the place (the
// oldest, unless limit was lowered) leaves the window. A refused event is not
// recorded, so retrying while held back does not push that moment later.
// Callers hash anything personal (an address) into name, and use one window
// per name: every call drops the events older than its own window.
func (s *Store) Allow(ctx context.Context, name string, window time.Duration, limit int) (allowed bool, n int64, retryAt time.Time, err error) {
	return s.rate(ctx, name, window, limit, true)
}

// Peek is Allow without recording: the count in the window ending now, and
// when an event would be allowed (zero when it would be now). It only drops
// events that left the window.
func (s *Store) Peek(ctx context.Context, name string, window time.Duration, limit int) (n int64, retryAt time.Time, err error) {
	_, n, retryAt, err = s.rate(ctx, name, window, limit, false)
	return n, retryAt, err
}

func (s *Store) rate(ctx context.Context, name string, window time.Duration, limit int, record bool) (bool, int64, time.Time, error) {
	args, err := s.rateArgs(name, window, limit, record)
	if err != nil {
		return false, 0, time.Time{}, err
	}
	return rateReply(allowScript.Run(ctx, s.c, []string{s.rateKey(name)}, args...), window)
}

// rateArgs are allowScript's arguments for one call.
func (s *Store) rateArgs(name string, window time.Duration, limit int, record bool) ([]any, error) {
	if window < time.Millisecond || limit < 1 {
		return nil, fmt.Errorf("store: counter %q with window %v and limit %d", name, window, limit)
	}
	now := s.now()
	flag := "0"
	if record {
		flag = "1"
	}
	// The member only has to be unique: two events in one millisecond both count.
	member := ms(now) + "-" + randomString(9)
	return []any{ms(now), ms(now.Add(-window)), limit, flag, member, msDur(window + s.slack)}, nil
}

// rateReply reads allowScript's reply.
func rateReply(cmd *redis.Cmd, window time.Duration) (bool, int64, time.Time, error) {
	res, err := cmd.Slice()
	if err != nil {
		return false, 0, time.Time{}, fmt.Errorf("store: counter: %w", err)
	}
	if len(res) != 3 {
		return false, 0, time.Time{}, fmt.Errorf("store: counter: unexpected reply %v", res)
	}
	recorded, _ := res[0].(int64)
	n, _ := res[1].(int64)
	var retryAt time.Time
	if sc, _ := res[2].(string); sc != "" {
		// A score is a double, returned as text.
		f, err := strconv.ParseFloat(sc, 64)
		if err != nil {
			return false, 0, time.Time{}, fmt.Errorf("store: counter: score %q: %w", sc, err)
		}
		retryAt = time.UnixMilli(int64(f)).Add(window)
	}
	return recorded == 1, n, retryAt, nil
}
