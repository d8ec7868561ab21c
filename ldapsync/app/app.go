// Package app is the password writer's composition root: it builds the
// worker from a loaded configuration (idp/config.Ldapsync) and makes the
// keys the `ldapsync` command hands out. cmd/ldapsync keeps only flags,
// signals and wiring.
package app

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/logging"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/metrics"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/redischeck"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/redisclient"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/tracing"
	"github.com/region-nouvelle-aquitaine/idp/ldapsync"
	"github.com/region-nouvelle-aquitaine/idp/ldapsync/directory"
)

// Run builds the worker from cfg and runs it until ctx ends, logging to w.
func Run(ctx context.Context, cfg *config.Ldapsync, w io.Writer) error {
	log := NewLogger(cfg.Log, w)
	// go-redis logs through one process-wide logger; without this its
	// plain-text lines would break the JSON stream while Redis is down.
	redis.SetLogger(logging.RedisLogger{Log: log})
	tp, err := tracing.New(tracingConfig(cfg.Tracing))
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = tp.Shutdown(sctx)
	}()
	if tp.Enabled {
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("tracing: export failed", "err", err) }))
	}
	rdb, err := redisclient.New(cfg.Redis, "ldapsync")
	if err != nil {
		return err
	}
	defer rdb.Close()
	var reg *metrics.Registry
	if cfg.Metrics.Enabled() {
		reg = metrics.New("ldapsync")
	}
	worker, err := build(cfg, rdb, log, reg)
	if err != nil {
		return err
	}
	if tp.Enabled {
		worker.Tracer = tp
	}
	if reg != nil {
		srv, err := Observe(cfg, rdb, reg, log)
		if err != nil {
			return err
		}
		defer srv.Close()
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		log.Warn("ldapsync: Redis does not answer yet; the worker keeps trying", "err", err)
	} else {
		redischeck.Warn(ctx, rdb, log, "ldapsync")
	}
	return worker.Run(ctx)
}

// Build makes the worker of cfg on rdb. It contacts nothing.
func Build(cfg *config.Ldapsync, rdb redis.UniversalClient, log *slog.Logger) (*ldapsync.Worker, error) {
	return build(cfg, rdb, log, nil)
}

// build is Build whose directories report to reg (nil: no metrics).
func build(cfg *config.Ldapsync, rdb redis.UniversalClient, log *slog.Logger, reg *metrics.Registry) (*ldapsync.Worker, error) {
	targets := make([]ldapsync.Target, len(cfg.Directories))
	for i, d := range cfg.Directories {
		dc := directory.Config{
			Config: d.Conn(), BaseDN: d.BaseDN, UserFilter: d.UserFilter, SubjectAttribute: d.SubjectAttribute,
		}
		if reg != nil {
			dc.Metrics = reg
		}
		dir, err := directory.New(dc, log.With("target", d.Name))
		if err != nil {
			return nil, err
		}
		targets[i] = ldapsync.Target{
			Name: d.Name, Label: d.Label, FindBy: d.FindBy, CheckSubject: d.SubjectAttribute != "",
			PolicyDN: d.PolicyDN, Writer: dir,
		}
	}
	if len(targets) > 0 && !targets[0].CheckSubject {
		log.Warn("ldapsync: the first directory has no subject_attribute: a login that changed hands is not detected there", "target", targets[0].Name)
	}
	w := cfg.Worker
	return ldapsync.New(ldapsync.Options{
		Redis: rdb, Prefix: cfg.Queue.KeyPrefix, StatusTTL: cfg.Queue.StatusTTL,
		PrivateKeys: cfg.PrivateKeys, WebPublicKeys: cfg.WebPublicKeys, Targets: targets, Log: log,
		Name: w.Name, Lease: w.Lease, RetryBackoff: w.RetryBackoff, MaxRetryBackoff: w.MaxRetryBackoff,
		RetryLimit: w.RetryLimit, PollInterval: w.PollInterval, PolicyInterval: w.PolicyInterval,
	})
}

// NewLogger logs to w at the configured level and format, through the
// handler both binaries share (request and trace ids, durations as text).
func NewLogger(c config.Log, w io.Writer) *slog.Logger {
	return logging.New(w, c.Format, c.Level)
}

func tracingConfig(t config.Tracing) tracing.Config {
	return tracing.Config{Endpoint: t.Endpoint, SampleRatio: t.SampleRatio, ServiceName: t.ServiceName}
}
