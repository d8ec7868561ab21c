package store

import (
	"strings"

	"github.com/redis/go-redis/v9"
)

// oneSlot reports whether every key of a store lands in one place where a
// script may name several of them: a single server or a Sentinel-managed
// primary (both *redis.Client), or a client that shards by key (a Cluster)
// with a prefix that is a hash tag ("{idp}:"). There, what belongs to one
// step of a sign-in is written by one script; on a Cluster whose keys
// spread over the masters, each key gets its own command, in one round
// trip (the pipelines go-redis splits by node).
func oneSlot(c redis.UniversalClient, prefix string) bool {
	if _, single := c.(*redis.Client); single {
		return true
	}
	return hashTagged(prefix)
}

// hashTagged: the prefix holds a complete, non-empty hash tag, so that
// Redis Cluster hashes only it for every key that starts with the prefix.
func hashTagged(prefix string) bool {
	_, after, ok := strings.Cut(prefix, "{")
	if !ok {
		return false
	}
	i := strings.IndexByte(after, '}')
	return i > 0
}

// Lua functions shared by the scripts of both layouts, so that a step
// written by one script on one slot runs the very same code as its
// single-key commands on a spread Cluster.

// luaIndex: index(key, now, exp, member, ttl) records member in a subject
// index until exp, dropping what expired by now, and keeps the index alive
// at least ttl ms.
const luaIndex = `
local function index(key, now, exp, member, ttl)
  redis.call("ZREMRANGEBYSCORE", key, "-inf", now)
  redis.call("ZADD", key, "GT", exp, member)
  if redis.call("PTTL", key) < tonumber(ttl) then
    redis.call("PEXPIRE", key, ttl)
  end
end
`

// luaSaveCode: saveCode(key, ref, exp, keep, ttl, req) writes a code's
// record (req, the completed request, may be empty) and its TTL.
const luaSaveCode = `
local function saveCode(key, ref, exp, keep, ttl, req)
  redis.call("HSET", key, "ar", ref, "exp", exp, "keep", keep)
  if req ~= "" then redis.call("HSET", key, "req", req) end
  redis.call("PEXPIRE", key, ttl)
end
`

// luaConsumeCode: consumeCode(key) marks a code used in one step: of
// concurrent callers exactly one sees it unused. Returns false for an
// unknown code, else {auth request Ref, expiry ms, already used (0|1)}.
const luaConsumeCode = `
local function consumeCode(key)
  local ar = redis.call("HGET", key, "ar")
  if not ar then return false end
  local exp = redis.call("HGET", key, "exp")
  if redis.call("HSETNX", key, "used", "1") == 0 then return {ar, exp, 1} end
  redis.call("HDEL", key, "req")
  return {ar, exp, 0}
end
`

// luaAllow: allow(key, now, from, limit, record, member, ttl) is one step
// of a sliding-window counter; see allowScript.
const luaAllow = `
local function allow(key, now, from, limit, record, member, ttl)
  redis.call("ZREMRANGEBYSCORE", key, "-inf", from)
  local n = redis.call("ZCARD", key)
  limit = tonumber(limit)
  if n < limit then
    if record == "1" then
      redis.call("ZADD", key, now, member)
      redis.call("PEXPIRE", key, ttl)
      return {1, n + 1, ""}
    end
    return {0, n, ""}
  end
  local e = redis.call("ZRANGE", key, n - limit, n - limit, "WITHSCORES")
  return {0, n, e[2]}
end
`

// indexedSets (one slot): KEYS[1] a subject index, KEYS[2…] records;
// ARGV[1…4] index's now, exp, member, ttl, then a value and a TTL (ms) per
// record. The index is written first, as on a spread Cluster.
var indexedSets = redis.NewScript(luaIndex + `
index(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
for i = 2, #KEYS do
  redis.call("SET", KEYS[i], ARGV[2 * i + 1], "PX", ARGV[2 * i + 2])
end
return 1
`)

// admit (one slot): KEYS[1] a rate counter, KEYS[2] a record; ARGV[1…6]
// as allowScript's, ARGV[7] the record's value, ARGV[8] its TTL (ms). The
// record is written only when the counter lets it in. Replies as allowScript.
var admit = redis.NewScript(luaAllow + `
local r = allow(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
if r[1] == 1 then redis.call("SET", KEYS[2], ARGV[7], "PX", ARGV[8]) end
return r
`)

// completeSignIn (one slot): KEYS[1] an auth request, KEYS[2] its code,
// and, for a sign-in that opened a session, KEYS[3] the subject index and
// KEYS[4] the session. ARGV[1] the request as it was read, ARGV[2] its
// completed form, ARGV[3] its TTL; ARGV[4…7] the code's ref, exp, keep,
// TTL; then ARGV[8…11] the index's now, exp, member, ttl and ARGV[12…13]
// the session and its TTL. The session is saved whatever happens; the
// request and its code only when the request is still as it was read.
// Returns 1 when they were, 0 when the request changed meanwhile.
var completeSignIn = redis.NewScript(luaIndex + luaSaveCode + `
if #KEYS == 4 then
  index(KEYS[3], ARGV[8], ARGV[9], ARGV[10], ARGV[11])
  redis.call("SET", KEYS[4], ARGV[12], "PX", ARGV[13])
end
if redis.call("GET", KEYS[1]) ~= ARGV[1] then return 0 end
redis.call("SET", KEYS[1], ARGV[2], "PX", ARGV[3])
saveCode(KEYS[2], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[2])
return 1
`)

// consumeCodeFor (one slot): KEYS[1] a code, KEYS[2] the session of its
// sign-in, KEYS[3] its subject's last revocation. Replies as consumeCode,
// with the session's and the revocation's values (false when absent)
// appended. With KEYS[4…6] (the subject index, an access token, the
// code's grant) and ARGV[1…4] the index's now, exp, member, ttl, then
// ARGV[5…8] the token, its TTL, the grant, its TTL: when the code was
// unspent and unexpired and the session is there, the token is indexed
// and saved with the grant, and a sixth element, 1, says so.
var consumeCodeFor = redis.NewScript(luaConsumeCode + luaIndex + `
local r = consumeCode(KEYS[1])
if not r then return false end
r[4] = redis.call("GET", KEYS[2])
r[5] = redis.call("GET", KEYS[3])
if #KEYS == 6 and r[3] == 0 and r[4] and tonumber(r[2]) > tonumber(ARGV[1]) then
  index(KEYS[4], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
  redis.call("SET", KEYS[5], ARGV[5], "PX", ARGV[6])
  redis.call("SET", KEYS[6], ARGV[7], "PX", ARGV[8])
  r[6] = 1
end
return r
`)
