package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/logging"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/metrics"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/redischeck"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/redisclient"
)

// Open loads the configuration file and builds the web tier on real Redis
// and the real directory.
func Open(ctx context.Context, path string) (*App, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	log := NewLogger(cfg.Log, os.Stderr)
	// go-redis logs through one process-wide logger; without this its
	// plain-text lines would break the JSON stream while Redis is down.
	redis.SetLogger(logging.RedisLogger{Log: log})
	rdb, err := redisclient.New(cfg.Redis, "idp")
	if err != nil {
		return nil, err
	}
	redischeck.Warn(ctx, rdb, log, "idp")
	lc := ldapConfig(cfg.LDAP)
	var reg *metrics.Registry
	if cfg.Metrics.Enabled() {
		reg = metrics.New("idp")
		lc.Metrics = reg
	}
	dir, err := ldapauth.New(lc, log)
	if err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("ldap: %w", err)
	}
	a, err := Build(cfg, Deps{Redis: rdb, Directory: dir, Accounts: dir, Log: log, Metrics: reg})
	if err != nil {
		_ = dir.Close()
		_ = rdb.Close()
		return nil, err
	}
	a.closers = append(a.closers, rdb.Close, dir.Close)
	return a, nil
}

// NewLogger is the JSON (or text) logger of the log section, through the
// handler both binaries share (request and trace ids, durations as text).
func NewLogger(c config.Log, w io.Writer) *slog.Logger {
	return logging.New(w, c.Format, c.Level)
}

func ldapConfig(c config.LDAP) ldapauth.Config {
	return ldapauth.Config{
		Config: c.Conn(), BaseDN: c.BaseDN, UserFilter: c.UserFilter, PoolSize: c.PoolSize,
		Attributes: ldapauth.Attributes{
			Subject: c.Attributes.Subject, Email: c.Attributes.Email, Name: c.Attributes.Name,
			GivenName: c.Attributes.GivenName, FamilyName: c.Attributes.FamilyName, Username: c.Attributes.Username,
		},
	}
}
