package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Operator's view of the queue, for the admin commands: what waits, what
// settled badly, and the two actions that are safe on a job nobody
// holds. None of it reads or returns a sealed password.
//
// A settled job keeps no sealed password (it is deleted in the same
// script that settles it), so a failed or partial change cannot be
// queued again: the person must choose a new password. What the operator
// can act on is a job still in the queue, waiting for its retry after a
// failed attempt.

// Errors of the admin operations.
var (
	// ErrHeld: a worker holds the job right now; try again when its
	// attempt is over.
	ErrHeld = errors.New("job: held by a worker")
	// ErrSettled: the job settled already; its sealed password is gone.
	ErrSettled = errors.New("job: settled already, its sealed password is gone")
	// ErrExpired: the job is past its ExpiresAt; a worker would settle it
	// as expired instead of writing it.
	ErrExpired = errors.New("job: past its expiry")
)

// ReasonCancelled: an operator dropped the job before it was written.
const ReasonCancelled Reason = "cancelled"

// Change is one job as the admin commands show it. Login is known only
// while the job is in the queue (the status and the events never carry
// it).
type Change struct {
	ID       string
	Subject  string
	Login    string
	State    State
	Reason   Reason
	Attempts int
	// InQueue: the job still exists (waiting or held); otherwise only its
	// status or its event is left.
	InQueue   bool
	CreatedAt time.Time
	ExpiresAt time.Time
	UpdatedAt time.Time
	// DueAt is when a waiting job is handed out next; zero when held or
	// settled.
	DueAt  time.Time
	Worker string // who holds it, when held
	// Targets are the outcomes per directory as last recorded.
	Targets []TargetOutcome
}

// Queued lists every job still in the queue, waiting or held, oldest due
// first.
func (q *Queue) Queued(ctx context.Context) ([]Change, error) {
	ready, err := q.c.ZRangeWithScores(ctx, q.readyKey(), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("job: list queue: %w", err)
	}
	held, err := q.c.ZRange(ctx, q.leasesKey(), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("job: list leases: %w", err)
	}
	ids := make([]string, 0, len(ready)+len(held))
	for _, z := range ready {
		ids = append(ids, z.Member.(string))
	}
	ids = append(ids, held...)
	out := make([]Change, 0, len(ids))
	for _, id := range ids {
		c, err := q.Change(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // settled meanwhile
		}
		if err != nil {
			return nil, err
		}
		if c.InQueue {
			out = append(out, c)
		}
	}
	return out, nil
}

// Settled returns the events of the jobs settled since, newest first,
// keeping only those in states (all when none), at most limit (0: no
// limit).
func (q *Queue) Settled(ctx context.Context, since time.Time, limit int, states ...State) ([]Event, error) {
	msgs, err := q.c.XRevRangeN(ctx, q.EventsStream(), "+", strconv.FormatInt(since.UnixMilli(), 10), 1000).Result()
	var out []Event
	for err == nil && len(msgs) > 0 {
		for _, m := range msgs {
			e, perr := ParseEvent(m)
			if perr != nil || (len(states) > 0 && !slices.Contains(states, e.State)) {
				continue
			}
			out = append(out, e)
			if limit > 0 && len(out) == limit {
				return out, nil
			}
		}
		if len(msgs) < 1000 {
			break
		}
		msgs, err = q.c.XRevRangeN(ctx, q.EventsStream(), "("+msgs[len(msgs)-1].ID, strconv.FormatInt(since.UnixMilli(), 10), 1000).Result()
	}
	if err != nil {
		return nil, fmt.Errorf("job: read events: %w", err)
	}
	return out, nil
}

// Change returns job id as it stands: from the queue while the job is
// there, else from its status (a settled job, for StatusTTL). ErrNotFound
// when neither is left.
func (q *Queue) Change(ctx context.Context, id string) (Change, error) {
	if !validID(id) {
		return Change{}, ErrNotFound
	}
	p := q.c.Pipeline()
	jh := p.HMGet(ctx, q.jobKey(id), "job", "attempts", "worker", "token")
	due := p.ZScore(ctx, q.readyKey(), id)
	if _, err := p.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return Change{}, fmt.Errorf("job: read %s: %w", id, err)
	}
	c := Change{ID: id}
	st, err := q.Status(ctx, id)
	switch {
	case err == nil:
		c.State, c.Reason, c.Attempts, c.UpdatedAt, c.Targets = st.State, st.Reason, st.Attempts, st.UpdatedAt, st.Targets
	case !errors.Is(err, ErrNotFound):
		return Change{}, err
	}
	v := jh.Val()
	recJSON, _ := v[0].(string)
	if recJSON == "" {
		if err != nil {
			return Change{}, ErrNotFound
		}
		return c, nil
	}
	var rec record
	if err := json.Unmarshal([]byte(recJSON), &rec); err != nil {
		return Change{}, fmt.Errorf("job: %s malformed: %w", id, err)
	}
	c.InQueue = true
	c.Subject, c.Login, c.CreatedAt, c.ExpiresAt = rec.Subject, rec.Login, rec.CreatedAt, rec.ExpiresAt
	c.Attempts, _ = strconv.Atoi(str(v[1]))
	if token := str(v[3]); token != "" {
		c.State, c.Worker = Running, str(v[2])
	} else if due.Err() == nil {
		c.DueAt = time.UnixMilli(int64(due.Val()))
	}
	if c.State == "" {
		c.State = Queued
	}
	return c, nil
}

func str(v any) string { s, _ := v.(string); return s }

// Requeue makes a waiting job due now, with its attempts counted from
// zero again, so that the workers try it at once with their whole retry
// budget (the operator fixed what made it fail). The job is left as it
// was written, sealed and signed; nothing new is queued, so nothing can
// be doubled. ErrHeld while a worker holds it, ErrSettled once settled,
// ErrExpired past its expiry, ErrNotFound otherwise.
func (q *Queue) Requeue(ctx context.Context, id string) error {
	return q.adminRun(ctx, q.requeue(), "requeue", id, func(res string) bool { return res == "ok" })
}

// Cancel settles a waiting job as a worker giving up would: Partial when
// some directory has the new password already (the web tier then ends
// the sessions and tells the person), else Failed; with ReasonCancelled,
// or ReasonUnconfirmed when a write was sent to a directory and whether
// it was applied is unknown (the person is then not told that nothing
// changed, and the change counts as written for the steps it may
// supersede). Its sealed password is deleted, the person's next change
// may be queued, and the event tells the web tier. Same errors as
// Requeue, but an expired job can be cancelled.
func (q *Queue) Cancel(ctx context.Context, id string) (State, Reason, error) {
	var st State
	var reason Reason
	err := q.adminRun(ctx, q.cancel(), "cancel", id, func(res string) bool {
		s, r, _ := strings.Cut(res, " ")
		st, reason = State(s), Reason(r)
		return st == Failed || st == Partial
	}, ms(q.statusTTL), ms(q.slack), q.maxLen)
	return st, reason, err
}

func (q *Queue) adminRun(ctx context.Context, s *redis.Script, what, id string, done func(string) bool, more ...any) error {
	if !validID(id) {
		return ErrNotFound
	}
	res, err := s.Run(ctx, q.c, q.fixedKeys(), q.args(append([]any{id}, more...)...)...).Text()
	if err != nil {
		return fmt.Errorf("job: %s %s: %w", what, id, err)
	}
	if done(res) {
		return nil
	}
	switch res {
	case "held":
		return fmt.Errorf("%w: %s", ErrHeld, id)
	case "settled":
		return fmt.Errorf("%w: %s", ErrSettled, id)
	case "expired":
		return fmt.Errorf("%w: %s", ErrExpired, id)
	case "missing":
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return fmt.Errorf("job: %s %s: unexpected reply %q", what, id, res)
}

// adminCheck, the start of both admin scripts: the job must be in the
// queue and held by nobody. ARGV[3] is the id.
const adminCheck = `
local id = ARGV[3]
local jk = B .. 'job:' .. id
if redis.call('EXISTS', B .. 'settled:' .. id) == 1 then return 'settled' end
if redis.call('HEXISTS', jk, 'job') == 0 then
  if redis.call('EXISTS', B .. 'status:' .. id) == 1 then return 'settled' end
  return 'missing'
end
if redis.call('HEXISTS', jk, 'token') == 1 or redis.call('ZSCORE', KEYS[2], id) then return 'held' end
`

func (q *Queue) requeue() *redis.Script {
	return redis.NewScript(luaCommon + adminCheck + `
if (tonumber(redis.call('HGET', jk, 'exp')) or 0) <= now then return 'expired' end
redis.call('HSET', jk, 'attempts', 0)
redis.call('ZADD', KEYS[1], now, id)
touch(id, 'queued', redis.call('HGET', B .. 'status:' .. id, 'reason') or '', 0)
return 'ok'
`)
}

func (q *Queue) cancel() *redis.Script {
	return redis.NewScript(luaCommon + adminCheck + `
-- As a worker giving up: partial when some directory has the new
-- password already; a target marked (a write sent) without an outcome
-- may have it too, so it fails unconfirmed and so does the job; every
-- other target not settled fails as cancelled.
local out, marked, written = {}, {}, false
local kv = redis.call('HGETALL', jk)
for i = 1, #kv, 2 do
  if string.sub(kv[i], 1, 4) == 'out:' then
    local ok, o = pcall(cjson.decode, kv[i + 1])
    if ok and type(o) == 'table' then
      out[string.sub(kv[i], 5)] = o
      if o.state == 'done' then written = true end
    end
  elseif string.sub(kv[i], 1, 5) == 'mark:' then
    marked[string.sub(kv[i], 6)] = true
  end
end
local reason = 'cancelled'
for name in pairs(marked) do
  if not out[name] then reason = 'unconfirmed' end
end
local targets = ''
local ok, ts = pcall(cjson.decode, redis.call('HGET', B .. 'status:' .. id, 'targets') or '')
if ok and type(ts) == 'table' and #ts > 0 then
  for i, t in ipairs(ts) do
    local o = out[tostring(t.name)]
    if o then ts[i] = o
    elseif t.state ~= 'done' and t.state ~= 'rejected' and t.state ~= 'failed' then
      t.state, t.reason = 'failed', 'cancelled'
      if marked[tostring(t.name)] then t.reason = 'unconfirmed' end
    end
  end
  targets = cjson.encode(ts)
end
local state = 'failed'
if written then state = 'partial' end
settle(id, state, reason, targets, tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6])
return state .. ' ' .. reason
`)
}
