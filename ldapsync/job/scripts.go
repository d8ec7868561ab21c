package job

// Lua scripts: one per queue operation, each atomic. Every key they touch
// shares the {pwchange} hash tag (one Cluster slot). KEYS[1..3] are always
// the ready set, the lease set and the events stream; per-job keys are built
// from the key base in ARGV[1]. ARGV[2] is the logical now, in Unix ms.

// luaCommon holds the helpers every script starts with.
const luaCommon = `
local B = ARGV[1]
local now = tonumber(ARGV[2])

-- held reports whether the job is still held by this claim's token.
local function held(id, token)
  return redis.call('HGET', B .. 'job:' .. id, 'token') == token
end

-- touch updates a live status; a status that is gone stays gone.
local function touch(id, state, reason, attempts)
  local sk = B .. 'status:' .. id
  if redis.call('EXISTS', sk) == 1 then
    redis.call('HSET', sk, 'state', state, 'reason', reason, 'attempts', attempts, 'updated', now)
  end
end

-- settle deletes the job and its sealed password, frees the subject,
-- keeps the final status for statusTTL and publishes the outcome.
local function settle(id, state, reason, statusTTL, slack, maxlen)
  local jk = B .. 'job:' .. id
  local h = redis.call('HMGET', jk, 'sub', 'pk', 'attempts')
  local attempts = h[3] or 0
  redis.call('DEL', jk)
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
  if h[2] and redis.call('GET', h[2]) == id then redis.call('DEL', h[2]) end
  local sk = B .. 'status:' .. id
  redis.call('HSET', sk, 'state', state, 'reason', reason, 'attempts', attempts,
    'updated', now, 'exp', now + statusTTL)
  redis.call('PEXPIRE', sk, statusTTL + slack)
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', maxlen, '*', 'job', id, 'sub', h[1] or '',
    'state', state, 'reason', reason, 'attempts', attempts, 'at', now)
end
`

// enqueueScript: KEYS[4] job, KEYS[5] status, KEYS[6] the subject's
// pending key. ARGV: 3 id, 4 job JSON, 5 sealed, 6 ExpiresAt ms, 7 subject,
// 8 job TTL ms, 9 status logical expiry ms, 10 status TTL ms.
// Returns {"ok"}, {"conflict"} or {"pending", id}.
const enqueueScript = luaCommon + `
if redis.call('EXISTS', KEYS[4]) == 1 or redis.call('EXISTS', KEYS[5]) == 1 then
  return {'conflict'}
end
local cur = redis.call('GET', KEYS[6])
if cur and redis.call('EXISTS', B .. 'job:' .. cur) == 1 then
  return {'pending', cur}
end
redis.call('SET', KEYS[6], ARGV[3], 'PX', ARGV[8])
redis.call('HSET', KEYS[4], 'job', ARGV[4], 'sealed', ARGV[5], 'exp', ARGV[6],
  'sub', ARGV[7], 'pk', KEYS[6], 'attempts', 0)
redis.call('PEXPIRE', KEYS[4], ARGV[8])
redis.call('HSET', KEYS[5], 'state', 'queued', 'reason', '', 'attempts', 0,
  'updated', now, 'exp', ARGV[9])
redis.call('PEXPIRE', KEYS[5], ARGV[10])
redis.call('ZADD', KEYS[1], now, ARGV[3])
return {'ok'}
`

// claimScript first puts back the jobs whose lease ended (their worker
// died or stalled), then takes the oldest due job. A due job past its
// ExpiresAt is settled as failed/expired instead, unless it carries a
// mark: an earlier write may have been applied, which only a worker can
// find out. ARGV: 3 lease ms, 4 worker, 5 token, 6 status TTL ms,
// 7 slack ms, 8 events MAXLEN. Returns nil (nothing due) or
// {id, job JSON, sealed, attempt, mark, lease end ms}.
const claimScript = luaCommon + `
local lease, worker, token = tonumber(ARGV[3]), ARGV[4], ARGV[5]
local statusTTL, slack, maxlen = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8]

for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 100)) do
  redis.call('ZREM', KEYS[2], id)
  local jk = B .. 'job:' .. id
  if redis.call('EXISTS', jk) == 1 then
    redis.call('HDEL', jk, 'token', 'worker', 'until')
    redis.call('ZADD', KEYS[1], now, id)
    touch(id, 'queued', '', redis.call('HGET', jk, 'attempts'))
  end
end

for _ = 1, 100 do
  local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1)
  if #ids == 0 then return false end
  local id = ids[1]
  local jk = B .. 'job:' .. id
  local h = redis.call('HMGET', jk, 'job', 'sealed', 'exp', 'mark')
  if not h[1] then
    -- the job outlived its Redis TTL unclaimed
    settle(id, 'failed', 'expired', statusTTL, slack, maxlen)
  elseif tonumber(h[3]) <= now and not h[4] then
    settle(id, 'failed', 'expired', statusTTL, slack, maxlen)
  else
    redis.call('ZREM', KEYS[1], id)
    local attempt = redis.call('HINCRBY', jk, 'attempts', 1)
    local untilMs = now + lease
    redis.call('HSET', jk, 'token', token, 'worker', worker, 'until', untilMs)
    redis.call('ZADD', KEYS[2], untilMs, id)
    touch(id, 'running', '', attempt)
    return {id, h[1], h[2], attempt, h[4] or '', untilMs}
  end
end
return false
`

// completeScript settles a held job. ARGV: 3 id, 4 token, 5 state,
// 6 reason, 7 status TTL ms, 8 slack ms, 9 events MAXLEN. Returns 1, or
// 0 when the claim no longer holds the job.
const completeScript = luaCommon + `
if not held(ARGV[3], ARGV[4]) then return 0 end
settle(ARGV[3], ARGV[5], ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9])
return 1
`

// retryScript puts a held job back, due at ARGV[5] (ms), with the reason
// of the failure in its status. ARGV: 3 id, 4 token, 5 due, 6 reason.
const retryScript = luaCommon + `
local id = ARGV[3]
if not held(id, ARGV[4]) then return 0 end
local jk = B .. 'job:' .. id
redis.call('HDEL', jk, 'token', 'worker', 'until')
redis.call('ZREM', KEYS[2], id)
redis.call('ZADD', KEYS[1], ARGV[5], id)
touch(id, 'queued', ARGV[6], redis.call('HGET', jk, 'attempts'))
return 1
`

// renewScript extends a held job's lease to ARGV[5] (ms). ARGV: 3 id,
// 4 token, 5 lease end.
const renewScript = luaCommon + `
local id = ARGV[3]
if not held(id, ARGV[4]) then return 0 end
redis.call('HSET', B .. 'job:' .. id, 'until', ARGV[5])
redis.call('ZADD', KEYS[2], 'XX', ARGV[5], id)
return 1
`

// markScript records ARGV[5] as the job's mark unless it has one: the
// first mark is the state before any write of this job. ARGV: 3 id,
// 4 token, 5 mark. Returns 1, or 0 when the claim no longer holds the job.
const markScript = luaCommon + `
local id = ARGV[3]
if not held(id, ARGV[4]) then return 0 end
redis.call('HSETNX', B .. 'job:' .. id, 'mark', ARGV[5])
return 1
`
