// Package redischeck warns at start-up when Redis may lose what both
// tiers keep there: the provider's signing keys, sessions and the queue
// of password changes waiting for ldapsync.
package redischeck

import (
	"context"
	"log/slog"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Findings are what Check found wrong; none when all is well.
type Findings struct {
	NoPersistence bool   // no AOF and no RDB save point: a restart empties Redis
	Eviction      string // the maxmemory-policy when it evicts keys and maxmemory is set
}

// Inspect reads the persistence and eviction settings of rdb (one
// server, or the first node that answers). err is not nil when CONFIG GET
// is refused (managed Redis often renames or disables it).
func Inspect(ctx context.Context, rdb redis.UniversalClient) (Findings, error) {
	var f Findings
	get := func(name string) (string, error) {
		m, err := rdb.ConfigGet(ctx, name).Result()
		if err != nil {
			return "", err
		}
		return m[name], nil
	}
	aof, err := get("appendonly")
	if err != nil {
		return f, err
	}
	save, err := get("save")
	if err != nil {
		return f, err
	}
	policy, err := get("maxmemory-policy")
	if err != nil {
		return f, err
	}
	maxmem, err := get("maxmemory")
	if err != nil {
		return f, err
	}
	f.NoPersistence = aof != "yes" && strings.TrimSpace(save) == ""
	if n, _ := strconv.ParseInt(maxmem, 10, 64); n > 0 && policy != "" && policy != "noeviction" {
		f.Eviction = policy
	}
	return f, nil
}

// Warn logs a WARN line per finding of rdb; it logs at DEBUG that it could
// not check when Redis refuses CONFIG GET or does not answer yet. who
// names the binary ("idp", "ldapsync").
func Warn(ctx context.Context, rdb redis.UniversalClient, log *slog.Logger, who string) {
	f, err := Inspect(ctx, rdb)
	if err != nil {
		log.DebugContext(ctx, who+": could not check Redis persistence and eviction settings", "err", err)
		return
	}
	const stake = "the provider's signing keys, the sessions and the password changes queued for ldapsync live in Redis"
	if f.NoPersistence {
		log.WarnContext(ctx, who+": Redis runs without persistence (appendonly no, no save point): "+stake+
			"; a Redis restart loses them (everyone signed out, queued changes lost). Enable appendonly or RDB snapshots")
	}
	if f.Eviction != "" {
		log.WarnContext(ctx, who+": Redis may evict keys under memory pressure: "+stake+
			"; set maxmemory-policy noeviction", "maxmemory_policy", f.Eviction)
	}
}
