package app

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/metrics"
)

// Observe serves, on the metrics section's listener, /metrics of reg and
// the probes: /healthz (the process answers) and /ready (Redis answers
// and the queue's keys can be read: the worker can take jobs). It counts
// rdb's errors and reads the queue's depth at every scrape.
func Observe(cfg *config.Ldapsync, rdb redis.UniversalClient, reg *metrics.Registry, log *slog.Logger) (*metrics.Server, error) {
	rdb.AddHook(reg.RedisHook())
	q := job.NewQueue(job.Options{Client: rdb, Prefix: cfg.Queue.KeyPrefix})
	reg.MustRegister(metrics.Queue(reg.Namespace, q))
	mux := reg.Mux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		err := rdb.Ping(ctx).Err()
		if err == nil {
			_, err = q.Backlog(ctx)
		}
		if err != nil {
			log.Warn("ldapsync: not ready", "err", err)
			http.Error(w, "not ready\n", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return metrics.Listen(cfg.Metrics.Listen, mux, log)
}
