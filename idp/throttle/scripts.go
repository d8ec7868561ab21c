package throttle

import "github.com/redis/go-redis/v9"

// Each script touches one key (Redis Cluster) and receives the time from
// the caller's clock: Redis's own clock never decides anything.

// attemptAccount: KEYS[1] account; ARGV now, delayAfter, delayMs,
// maxDelayMs, lockAfter, lockMs, forgetMs, slackMs.
// Returns {allowed (0|1), failures, until ms (0 = no hold)}.
var attemptAccount = redis.NewScript(`
local now = tonumber(ARGV[1])
local delayAfter, delay, maxDelay = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local lockAfter, lock, forget, slack = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local st = redis.call("HMGET", KEYS[1], "n", "last", "until")
local n, last, hold = tonumber(st[1]) or 0, tonumber(st[2]) or 0, tonumber(st[3]) or 0
if now < hold then
  return {0, n, hold}
end
local pn, plast, phold = n, last, hold
if n > 0 and now - last >= forget then
  n = 0
end
n = n + 1
hold = 0
if n >= lockAfter then
  hold = now + lock
elseif n >= delayAfter then
  local d = delay
  for _ = delayAfter + 1, n do
    d = d * 2
    if d >= maxDelay then break end
  end
  if d > maxDelay then d = maxDelay end
  hold = now + d
end
redis.call("HSET", KEYS[1], "n", n, "last", now, "until", hold, "pn", pn, "plast", plast, "puntil", phold)
local keep = forget
if hold - now > keep then keep = hold - now end
redis.call("PEXPIRE", KEYS[1], keep + slack)
return {1, n, hold}
`)

// refundAccount: KEYS[1] account; ARGV failures as counted by the attempt
// being taken back. When nothing was counted since, the previous state
// comes back exactly; otherwise only the count goes down by one.
var refundAccount = redis.NewScript(`
local n = tonumber(redis.call("HGET", KEYS[1], "n"))
if n == nil then return 0 end
if n == tonumber(ARGV[1]) then
  local p = redis.call("HMGET", KEYS[1], "pn", "plast", "puntil")
  if (tonumber(p[1]) or 0) == 0 then
    redis.call("DEL", KEYS[1])
  else
    redis.call("HSET", KEYS[1], "n", p[1], "last", p[2], "until", p[3])
  end
elseif n > 0 then
  redis.call("HINCRBY", KEYS[1], "n", -1)
end
return 1
`)

// attemptIP: KEYS[1] address; ARGV now, max failures, windowMs, slackMs.
// Fixed windows starting at the first counted failure.
// Returns {allowed (0|1), failures, allowed: window start, refused: window end}.
var attemptIP = redis.NewScript(`
local now, max, window, slack = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local st = redis.call("HMGET", KEYS[1], "start", "n")
local start, n = tonumber(st[1]) or 0, tonumber(st[2]) or 0
if start == 0 or now - start >= window or now < start then
  start, n = now, 0
end
if n >= max then
  return {0, n, start + window}
end
n = n + 1
redis.call("HSET", KEYS[1], "start", start, "n", n)
redis.call("PEXPIRE", KEYS[1], start + window - now + slack)
return {1, n, start}
`)

// refundIP: KEYS[1] address; ARGV window start of the attempt taken back.
var refundIP = redis.NewScript(`
local st = redis.call("HMGET", KEYS[1], "start", "n")
if tonumber(st[1]) == tonumber(ARGV[1]) and (tonumber(st[2]) or 0) > 0 then
  redis.call("HINCRBY", KEYS[1], "n", -1)
end
return 1
`)
