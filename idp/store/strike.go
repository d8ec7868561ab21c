package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// A failure counter is a rate counter (rate:<name>, the same log as Allow's)
// whose hold is derived from the log itself: the failure that makes Limit in
// the Window ending at it holds further ones off for Hold. Since nothing is
// recorded while a counter is held, its newest failure is the one that
// started any hold in force, and one key tells both. Keeping the hold in
// the same key lets one single-key script check it and record the next
// failure, on every layout; a separate hold key would fall in another slot
// of a spread Cluster.

// luaStrike: held(key, now, window, hold, limit) is the end (ms) of the
// hold in force, or false; record(key, now, member, keep, ttl) adds a
// failure, dropping what no hold can depend on any more (older than
// window + hold).
const luaStrike = `
local function held(key, now, window, hold, limit)
  local last = redis.call("ZREVRANGE", key, 0, 0, "WITHSCORES")
  if #last == 0 then return false end
  local t = tonumber(last[2])
  if t + tonumber(hold) <= tonumber(now) then return false end
  local from = "(" .. string.format("%.0f", t - tonumber(window))
  if redis.call("ZCOUNT", key, from, last[2]) < tonumber(limit) then return false end
  return t + tonumber(hold)
end
local function record(key, now, member, keep, ttl)
  redis.call("ZREMRANGEBYSCORE", key, "-inf", string.format("%.0f", tonumber(now) - tonumber(keep)))
  redis.call("ZADD", key, now, member)
  redis.call("PEXPIRE", key, ttl)
end
`

// strikeOne: KEYS[1] a failure counter; ARGV now ms, window ms, hold ms,
// limit, member, keep ms, ttl ms. Records the failure unless the counter is
// held. Returns {recorded (0|1), end of the hold in ms ("" when none)}.
var strikeOne = redis.NewScript(luaStrike + `
local h = held(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
if h then return {0, string.format("%.0f", h)} end
record(KEYS[1], ARGV[1], ARGV[5], ARGV[6], ARGV[7])
return {1, ""}
`)

// strikeAll (one slot): strikeOne over every key of KEYS, all or nothing:
// nothing is recorded when one is held, and the reply's end is the latest.
var strikeAll = redis.NewScript(luaStrike + `
local last = false
for i = 1, #KEYS do
  local h = held(KEYS[i], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
  if h and (not last or h > last) then last = h end
end
if last then return {0, string.format("%.0f", last)} end
for i = 1, #KEYS do
  record(KEYS[i], ARGV[1], ARGV[5], ARGV[6], ARGV[7])
end
return {1, ""}
`)

// StrikeRule is a failure counter's rule: the failure that makes Limit in
// the last Window, and each one after while they stay there, holds the
// next ones off for Hold.
type StrikeRule struct {
	Window, Hold time.Duration
	Limit        int
}

// A Strike is a failure Strike recorded, counted until Retract takes it
// back.
type Strike struct {
	names  []string
	member string
}

// Strike records one failure, before the attempt it stands for is made, in
// each counter of names, unless one of them is held: then it records
// nothing and returns a nil Strike and when a hold that refused it ends
// (the latest, where every key shares a slot). Checking
// the hold and recording are one step per counter, so attempts in parallel
// never get past a hold together: at most Limit of them are made before it.
// The caller takes the failure back (Retract) when the attempt succeeded or
// was not made. One rule per name: each call drops what is older than its
// own window and hold. Callers hash anything personal into names.
func (s *Store) Strike(ctx context.Context, names []string, rule StrikeRule) (*Strike, time.Time, error) {
	if len(names) == 0 || rule.Window < time.Millisecond || rule.Hold < time.Millisecond || rule.Limit < 1 {
		return nil, time.Time{}, fmt.Errorf("store: failure counters %q with %+v", names, rule)
	}
	now := s.now()
	st := &Strike{names: slices.Clone(names), member: ms(now) + "-" + randomString(9)}
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = s.rateKey(n)
	}
	args := []any{ms(now), msDur(rule.Window), msDur(rule.Hold), rule.Limit, st.member,
		msDur(rule.Window + rule.Hold), msDur(rule.Window + rule.Hold + s.slack)}
	if s.oneSlot || len(keys) == 1 {
		script := strikeAll
		if len(keys) == 1 {
			script = strikeOne
		}
		recorded, until, err := strikeReply(script.Run(ctx, s.c, keys, args...))
		if err != nil || !recorded {
			return nil, until, err
		}
		return st, time.Time{}, nil
	}
	// A spread Cluster: one script per counter, each atomic on its own,
	// which is what bounds each counter. They go one after the other in
	// one order for every caller, as locks are taken: what a later counter
	// refuses is taken back from the earlier ones, and the last one a
	// burst reaches keeps what it recorded, so parallel strikes cannot
	// refuse each other all round and leave no counter held.
	order := slices.Clone(names)
	slices.Sort(order)
	var done []string
	for _, n := range order {
		recorded, until, err := strikeReply(strikeOne.Run(ctx, s.c, []string{s.rateKey(n)}, args...))
		if err == nil && recorded {
			done = append(done, n)
			continue
		}
		if rerr := s.Retract(ctx, &Strike{names: done, member: st.member}); rerr != nil {
			return nil, time.Time{}, errors.Join(err, rerr)
		}
		return nil, until, err
	}
	return st, time.Time{}, nil
}

// Retract takes back a failure Strike recorded, and with it any hold it
// started. A nil Strike retracts nothing.
func (s *Store) Retract(ctx context.Context, st *Strike) error {
	if st == nil || len(st.names) == 0 {
		return nil
	}
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, n := range st.names {
			p.ZRem(ctx, s.rateKey(n), st.member)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: retract a failure: %w", err)
	}
	return nil
}

// strikeReply reads strikeOne's and strikeAll's reply.
func strikeReply(cmd *redis.Cmd) (recorded bool, until time.Time, err error) {
	res, err := cmd.Slice()
	if err != nil {
		return false, time.Time{}, fmt.Errorf("store: failure counter: %w", err)
	}
	if len(res) != 2 {
		return false, time.Time{}, fmt.Errorf("store: failure counter: unexpected reply %v", res)
	}
	r, _ := res[0].(int64)
	if end, _ := res[1].(string); end != "" {
		v, err := strconv.ParseInt(end, 10, 64)
		if err != nil {
			return false, time.Time{}, fmt.Errorf("store: failure counter: hold end %q: %w", end, err)
		}
		until = time.UnixMilli(v)
	}
	return r == 1, until, nil
}
