package throttle

import "github.com/redis/go-redis/v9"

// Each script touches one key (Redis Cluster) and receives the time from
// the caller's clock: Redis's own clock never decides anything.

// attemptAccount: KEYS[1] counter; ARGV now, delayAfter, delayMs,
// maxDelayMs, lockAfter, lockMs, windowMs, slackMs.
// Failures are kept as a list of times ("f"); only those of the last
// window count, so a trickle of failures never adds up to a lock.
// Returns {allowed (0|1), failures in the window, until ms (0 = no hold),
// locked (0|1)}.
var attemptAccount = redis.NewScript(`
local now = tonumber(ARGV[1])
local delayAfter, delay, maxDelay = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local lockAfter, lock, window, slack = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local st = redis.call("HMGET", KEYS[1], "f", "until", "lock")
local hold, locked = tonumber(st[2]) or 0, tonumber(st[3]) or 0
local kept = {}
for t in string.gmatch(st[1] or "", "%d+") do
  if now - tonumber(t) < window then kept[#kept + 1] = t end
end
local n = #kept
if now < hold then
  return {0, n, hold, locked}
end
local phold, plocked = hold, locked
n = n + 1
kept[#kept + 1] = tostring(now)
hold, locked = 0, 0
if n >= lockAfter then
  hold, locked = now + lock, 1
elseif n >= delayAfter then
  local d = delay
  for _ = delayAfter + 1, n do
    d = d * 2
    if d >= maxDelay then break end
  end
  if d > maxDelay then d = maxDelay end
  hold = now + d
end
redis.call("HSET", KEYS[1], "f", table.concat(kept, " "), "until", hold, "lock", locked, "puntil", phold, "plock", plocked)
local keep = window
if hold - now > keep then keep = hold - now end
redis.call("PEXPIRE", KEYS[1], keep + slack)
return {1, n, hold, locked}
`)

// refundAccount: KEYS[1] counter; ARGV time and hold of the attempt taken
// back. Its failure leaves the list; the hold it brought, if still in
// force, gives way to the one before.
var refundAccount = redis.NewScript(`
local st = redis.call("HMGET", KEYS[1], "f", "until", "puntil", "plock", "lock")
if st[1] == false then return 0 end
local kept, dropped = {}, false
for t in string.gmatch(st[1], "%d+") do
  if not dropped and t == ARGV[1] then dropped = true else kept[#kept + 1] = t end
end
local hold, locked = st[2], st[5] or 0
if st[2] == ARGV[2] then hold, locked = st[3] or 0, st[4] or 0 end
redis.call("HSET", KEYS[1], "f", table.concat(kept, " "), "until", hold, "lock", locked)
return 1
`)

// countIP: KEYS[1] address; ARGV now, windowMs, slackMs. One failure more
// in fixed windows starting at the first failure; CheckNetwork reads them.
var countIP = redis.NewScript(`
local now, window, slack = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local st = redis.call("HMGET", KEYS[1], "start", "n")
local start, n = tonumber(st[1]) or 0, tonumber(st[2]) or 0
if start == 0 or now - start >= window or now < start then
  start, n = now, 0
end
redis.call("HSET", KEYS[1], "start", start, "n", n + 1)
redis.call("PEXPIRE", KEYS[1], start + window - now + slack)
return n + 1
`)
