-- KEYS[1]: the sorted set of deliveries, scored by when they are due (ms).
-- ARGV[1]: now; ARGV[2]: how many at most; ARGV[3]: the end of the lease.
local due = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", ARGV[1], "LIMIT", 0, tonumber(ARGV[2]))
for _, m in ipairs(due) do
  redis.call("ZADD", KEYS[1], "XX", ARGV[3], m)
end
return due
