package job

// Lua scripts: one per queue operation, each atomic. Every key they touch
// shares the {pwchange} hash tag (one Cluster slot). KEYS[1..3] are always
// the ready set, the lease set and the events stream; per-job keys are built
// from the key base in ARGV[1]. ARGV[2] is the logical now, in Unix ms.
//
// Per-target progress lives in the job hash: "mark:<target>" (the entry
// before this job's first write there) and "out:<target>" (the settled
// outcome, TargetOutcome JSON). The status hash keeps "targets", the list
// of every target as the worker last recorded it (JSON), for the waiting
// screen and for the final event. Scripts decode JSON with cjson, which
// Redis (and miniredis) provide.

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
-- records when the subject's password was written (done or partial, or
-- failed unconfirmed: it may have been), keeps
-- the final status for statusTTL and publishes the outcome. targets ('' to
-- keep what the status has) is the final list of target outcomes.
local function settle(id, state, reason, targets, statusTTL, slack, maxlen)
  local jk = B .. 'job:' .. id
  local h = redis.call('HMGET', jk, 'sub', 'pk', 'attempts', 'exp', 'wk', 'wttl')
  if (state == 'done' or state == 'partial' or (state == 'failed' and reason == 'unconfirmed')) and h[5] then
    redis.call('SET', h[5], now, 'PX', math.max(tonumber(h[6]) or 0, 1))
  end
  local attempts = h[3] or 0
  -- Remembered until the job has expired (the worker refuses it then):
  -- a copy queued again is dropped, never written twice.
  redis.call('SET', B .. 'settled:' .. id, state, 'PX', math.max((tonumber(h[4]) or now) - now, 0) + slack)
  redis.call('DEL', jk)
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
  if h[2] and redis.call('GET', h[2]) == id then redis.call('DEL', h[2]) end
  local sk = B .. 'status:' .. id
  redis.call('HSET', sk, 'state', state, 'reason', reason, 'attempts', attempts,
    'updated', now, 'exp', now + statusTTL)
  if targets ~= '' then redis.call('HSET', sk, 'targets', targets) end
  redis.call('PEXPIRE', sk, statusTTL + slack)
  local ev = {'job', id, 'sub', h[1] or '', 'state', state, 'reason', reason, 'attempts', attempts, 'at', now}
  local tj = redis.call('HGET', sk, 'targets')
  if tj then
    table.insert(ev, 'targets')
    table.insert(ev, tj)
  end
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', maxlen, '*', unpack(ev))
end
`

// enqueueScript: KEYS[4] job, KEYS[5] status, KEYS[6] the subject's
// pending key, KEYS[7] the subject's last written time. ARGV: 3 id, 4 job
// JSON, 5 sealed, 6 ExpiresAt ms, 7 subject, 8 job TTL ms, 9 status
// logical expiry ms, 10 status TTL ms, 11 since ms (0: none), 12 how long
// settle keeps the written time (ms).
// Returns {"ok"}, {"conflict"}, {"pending", id} or {"superseded"}.
const enqueueScript = luaCommon + `
if redis.call('EXISTS', KEYS[4]) == 1 or redis.call('EXISTS', KEYS[5]) == 1
    or redis.call('EXISTS', B .. 'settled:' .. ARGV[3]) == 1 then
  return {'conflict'}
end
local cur = redis.call('GET', KEYS[6])
if cur and redis.call('EXISTS', B .. 'job:' .. cur) == 1 then
  return {'pending', cur}
end
local since = tonumber(ARGV[11]) or 0
if since > 0 and (tonumber(redis.call('GET', KEYS[7]) or '0') or 0) >= since then
  return {'superseded'}
end
redis.call('SET', KEYS[6], ARGV[3], 'PX', ARGV[8])
redis.call('HSET', KEYS[4], 'job', ARGV[4], 'sealed', ARGV[5], 'exp', ARGV[6],
  'sub', ARGV[7], 'pk', KEYS[6], 'wk', KEYS[7], 'wttl', ARGV[12], 'attempts', 0)
redis.call('PEXPIRE', KEYS[4], ARGV[8])
redis.call('HSET', KEYS[5], 'state', 'queued', 'reason', '', 'attempts', 0,
  'updated', now, 'exp', ARGV[9])
redis.call('PEXPIRE', KEYS[5], ARGV[10])
redis.call('ZADD', KEYS[1], now, ARGV[3])
return {'ok'}
`

// claimScript first puts back the jobs whose lease ended (their worker
// died or stalled), then takes the oldest due job. A due job past its
// ExpiresAt is settled instead, unless one of its targets carries a mark
// without a recorded outcome: an earlier write there may have been
// applied, which only a worker can find out. It settles as partial when
// a target was written already (done if the status lists every target
// as done), else failed; either with reason expired, and the targets not
// settled are listed as failed/expired. ARGV: 3 lease ms, 4 worker,
// 5 token, 6 status TTL ms, 7 slack ms, 8 events MAXLEN. Returns nil
// (nothing due), {"replayed", id} for a job whose id was settled already
// (a copy queued again: dropped, its status left as the first one
// settled it), or {id, job JSON, sealed, attempt, lease end ms,
// {field, value, ...}} with the job's "mark:" and "out:" fields.
const claimScript = luaCommon + `
local lease, worker, token = tonumber(ARGV[3]), ARGV[4], ARGV[5]
local statusTTL, slack, maxlen = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8]

local function decode(s)
  local ok, v = pcall(cjson.decode, s)
  if ok and type(v) == 'table' then return v end
  return nil
end

-- finalTargets is the status's list of targets with the recorded
-- outcomes, and the ones never settled failed with reason; and whether
-- every listed target is done.
local function finalTargets(id, f, reason)
  local ts = decode(redis.call('HGET', B .. 'status:' .. id, 'targets') or '')
  if not ts or #ts == 0 then return '', false end
  local all = true
  for i, t in ipairs(ts) do
    local o = decode(f['out:' .. tostring(t.name)] or '')
    if o then t = o; ts[i] = o end
    if t.state ~= 'done' and t.state ~= 'rejected' and t.state ~= 'failed' then
      t.state = 'failed'
      t.reason = reason
    end
    if t.state ~= 'done' then all = false end
  end
  return cjson.encode(ts), all
end

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
  local f = {}
  local kv = redis.call('HGETALL', jk)
  for i = 1, #kv, 2 do f[kv[i]] = kv[i + 1] end
  local unresolved, written, progress = false, false, {}
  for k, v in pairs(f) do
    if string.sub(k, 1, 5) == 'mark:' then
      table.insert(progress, k)
      table.insert(progress, v)
      if not f['out:' .. string.sub(k, 6)] then unresolved = true end
    elseif string.sub(k, 1, 4) == 'out:' then
      table.insert(progress, k)
      table.insert(progress, v)
      local o = decode(v)
      if o and o.state == 'done' then written = true end
    end
  end
  if redis.call('EXISTS', B .. 'settled:' .. id) == 1 then
    redis.call('DEL', jk)
    redis.call('ZREM', KEYS[1], id)
    if f['pk'] and redis.call('GET', f['pk']) == id then redis.call('DEL', f['pk']) end
    return {'replayed', id}
  elseif not f['job'] then
    -- the job outlived its Redis TTL unclaimed
    settle(id, 'failed', 'expired', '', statusTTL, slack, maxlen)
  elseif (tonumber(f['exp']) or 0) <= now and not unresolved then
    local targets, all = finalTargets(id, f, 'expired')
    local state, reason = 'failed', 'expired'
    if written and all then
      state, reason = 'done', ''
    elseif written then
      state = 'partial'
    end
    settle(id, state, reason, targets, statusTTL, slack, maxlen)
  else
    redis.call('ZREM', KEYS[1], id)
    local attempt = redis.call('HINCRBY', jk, 'attempts', 1)
    local untilMs = now + lease
    redis.call('HSET', jk, 'token', token, 'worker', worker, 'until', untilMs)
    redis.call('ZADD', KEYS[2], untilMs, id)
    touch(id, 'running', '', attempt)
    return {id, f['job'], f['sealed'] or '', attempt, untilMs, progress}
  end
end
return false
`

// completeScript settles a held job. ARGV: 3 id, 4 token, 5 state,
// 6 reason, 7 targets JSON (empty keeps the status's), 8 status TTL ms,
// 9 slack ms, 10 events MAXLEN. Returns 1, or 0 when the claim no longer
// holds the job.
const completeScript = luaCommon + `
if not held(ARGV[3], ARGV[4]) then return 0 end
settle(ARGV[3], ARGV[5], ARGV[6], ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9]), ARGV[10])
return 1
`

// retryScript puts a held job back, due at ARGV[5] (ms), with the reason
// of the failure in its status. ARGV: 3 id, 4 token, 5 due, 6 reason,
// 7 targets JSON (empty keeps the status's).
const retryScript = luaCommon + `
local id = ARGV[3]
if not held(id, ARGV[4]) then return 0 end
local jk = B .. 'job:' .. id
redis.call('HDEL', jk, 'token', 'worker', 'until')
redis.call('ZREM', KEYS[2], id)
redis.call('ZADD', KEYS[1], ARGV[5], id)
touch(id, 'queued', ARGV[6], redis.call('HGET', jk, 'attempts'))
local sk = B .. 'status:' .. id
if ARGV[7] ~= '' and redis.call('EXISTS', sk) == 1 then redis.call('HSET', sk, 'targets', ARGV[7]) end
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

// markScript records ARGV[6] as the mark of target ARGV[5] unless it has
// one: the first mark is the state before any write of this job there.
// ARGV: 3 id, 4 token, 5 target, 6 mark. Returns 1, or 0 when the claim
// no longer holds the job.
const markScript = luaCommon + `
local id = ARGV[3]
if not held(id, ARGV[4]) then return 0 end
redis.call('HSETNX', B .. 'job:' .. id, 'mark:' .. ARGV[5], ARGV[6])
return 1
`

// recordScript records settled target outcomes in a held job and the
// list of every target in its status. ARGV: 3 id, 4 token, 5 targets
// JSON, then pairs of target name and outcome JSON. Returns 1, or 0 when
// the claim no longer holds the job.
const recordScript = luaCommon + `
local id = ARGV[3]
if not held(id, ARGV[4]) then return 0 end
local jk = B .. 'job:' .. id
for i = 6, #ARGV - 1, 2 do
  redis.call('HSET', jk, 'out:' .. ARGV[i], ARGV[i + 1])
end
local sk = B .. 'status:' .. id
if redis.call('EXISTS', sk) == 1 then redis.call('HSET', sk, 'targets', ARGV[5]) end
return 1
`

// publishPoliciesScript stores target policies in the hash KEYS[4], one
// field per target (JSON with its logical expiry "exp", ms), drops the
// fields whose expiry passed, and keeps the key at least ARGV[3] ms.
// ARGV: 3 key TTL ms, then pairs of target name and policy JSON.
const publishPoliciesScript = luaCommon + `
local kv = redis.call('HGETALL', KEYS[4])
for i = 1, #kv, 2 do
  local ok, p = pcall(cjson.decode, kv[i + 1])
  if not ok or type(p) ~= 'table' or (tonumber(p.exp) or 0) <= now then
    redis.call('HDEL', KEYS[4], kv[i])
  end
end
for i = 4, #ARGV - 1, 2 do
  redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1])
end
if redis.call('PTTL', KEYS[4]) < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[4], ARGV[3])
end
return 1
`
