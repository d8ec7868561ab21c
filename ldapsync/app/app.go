// Package app is the password writer's composition root: it builds the
// worker from a loaded configuration (idp/config.Ldapsync) and makes the
// keys the `ldapsync` command hands out. cmd/ldapsync keeps only flags,
// signals and wiring.
package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/metrics"
	"github.com/region-nouvelle-aquitaine/idp/ldapsync"
	"github.com/region-nouvelle-aquitaine/idp/ldapsync/directory"
)

// Run builds the worker from cfg and runs it until ctx ends, logging to w.
func Run(ctx context.Context, cfg *config.Ldapsync, w io.Writer) error {
	log := NewLogger(cfg.Log, w)
	rdb, err := NewRedis(cfg.Redis)
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
	if reg != nil {
		srv, err := Observe(cfg, rdb, reg, log)
		if err != nil {
			return err
		}
		defer srv.Close()
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		log.Warn("ldapsync: Redis does not answer yet; the worker keeps trying", "err", err)
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

// NewLogger logs to w at the configured level and format.
func NewLogger(c config.Log, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.Level}
	if c.Format == config.LogText {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// NewRedis makes the client of the redis section.
func NewRedis(r config.Redis) (redis.UniversalClient, error) {
	opts := &redis.UniversalOptions{
		Addrs: r.Addrs, MasterName: r.MasterName, Username: r.Username, Password: r.Password, DB: r.DB,
		ClientName: "ldapsync",
	}
	if r.TLS {
		opts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		if r.CAFile != "" {
			pem, err := os.ReadFile(r.CAFile)
			if err != nil {
				return nil, fmt.Errorf("redis CA: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("redis CA %s: no certificate found", r.CAFile)
			}
			opts.TLSConfig.RootCAs = pool
		}
	}
	return redis.NewUniversalClient(opts), nil
}
