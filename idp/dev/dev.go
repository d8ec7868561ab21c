// Package dev is the embedded default of `make run` (cmd/idp-dev): an
// in-process Redis-compatible server, the demo directory, ldapsync in the
// same process, the demo site and a demo upstream provider (zitadel's
// example OP) for « Je suis un agent du siège », all on loopback addresses. Nothing of
// it is linked into the production binary.
package dev

import (
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	demo "github.com/region-nouvelle-aquitaine/idp/deploy/dev"
	"github.com/region-nouvelle-aquitaine/idp/idp/app"
	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/dev/demorp"
	"github.com/region-nouvelle-aquitaine/idp/idp/dev/devdir"
	"github.com/region-nouvelle-aquitaine/idp/idp/reset"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/logging"
	"github.com/region-nouvelle-aquitaine/idp/ldapsync"
)

const (
	// Addr is where dev mode serves unless told otherwise.
	Addr = "localhost:8080"
	// ClientID is the demo site's client.
	ClientID = "demo"
)

// Config is the embedded default: everything a newcomer needs to
// click through, nothing outside the process. Keys are random at every
// start, so nothing survives a restart.
func Config(addr, clientSecret string) *config.Config {
	devIssuer := "http://" + addr
	var cfg config.Config
	cfg.Issuer = devIssuer
	cfg.Listen = addr
	cfg.InsecureLoopback = true
	cfg.PublicURL = devIssuer
	cfg.SupportURL = "https://mesdemarches.nouvelle-aquitaine.fr/"
	cfg.Branding = config.DefaultBranding()
	cfg.Legal = config.DefaultLegal()
	cfg.Log = config.Log{Level: slog.LevelInfo, Format: config.LogText}
	cfg.Redis.KeyPrefix = "idp:"
	_, _ = rand.Read(cfg.Secrets.CryptoKey[:])
	cfg.Secrets.CookieKey = make([]byte, 32)
	_, _ = rand.Read(cfg.Secrets.CookieKey)
	cfg.OIDC = config.OIDC{
		SigningAlgorithm: config.RS256, AuthRequestLifetime: 15 * time.Minute, CodeLifetime: time.Minute,
		AccessTokenLifetime: 15 * time.Minute, IDTokenLifetime: time.Hour, RefreshTokenLifetime: 12 * time.Hour,
	}
	cfg.Mail = config.DefaultMail()
	cfg.Throttle = config.DefaultThrottle()
	cfg.Reset = config.Reset{
		EluURL:         "https://www.nouvelle-aquitaine.fr/",
		AgentLyceesURL: "https://www.nouvelle-aquitaine.fr/",
		AgentSiegeURL:  "https://www.nouvelle-aquitaine.fr/",
		SupportURL:     cfg.SupportURL,
	}
	cfg.Session = config.Session{IdleTimeout: 30 * time.Minute, Lifetime: 12 * time.Hour, CookieName: "idp_session"}
	cfg.Clients = []config.Client{{
		ID: ClientID, Name: "Site de démonstration",
		SecretSHA256:           sha256.Sum256([]byte(clientSecret)),
		RedirectURIs:           []string{devIssuer + "/demo/callback"},
		PostLogoutRedirectURIs: []string{devIssuer + "/demo/"},
		HomeURL:                devIssuer + "/demo/",
		AccessTokenFormat:      config.AccessTokenOpaque,
		BackchannelLogoutURI:   devIssuer + "/demo/backchannel",
	}}
	cfg.Backchannel = config.DefaultBackchannel()
	return &cfg
}

// ConsoleOutbox prints mail instead of sending it: dev mode has no relay,
// and the newcomer reads the security code in the terminal.
type ConsoleOutbox struct{ Out io.Writer }

func (c ConsoleOutbox) Enqueue(_ context.Context, m reset.Mail) error {
	_, err := fmt.Fprintf(c.Out, "\n──── mail (dev mode: not sent) ────\nTo: %s\nSubject: %s\n\n%s\n───────────────────────────────────\n", m.To, m.Subject, m.Text)
	return err
}

// Build starts the embedded default: an in-process Redis-compatible
// server, the demo directory of deploy/dev and the demo site at /demo/.
func Build(_ context.Context, out io.Writer, addr string) (*app.App, error) {
	var b [24]byte
	_, _ = rand.Read(b[:])
	secret := base64.RawURLEncoding.EncodeToString(b[:])
	if host, _, err := net.SplitHostPort(addr); err != nil || !config.IsLoopback(host) {
		return nil, fmt.Errorf("--addr %q: dev mode serves only on a loopback address such as localhost:8080", addr)
	}
	cfg := Config(addr, secret)
	devIssuer := cfg.Issuer
	log := app.NewLogger(cfg.Log, os.Stderr)
	redis.SetLogger(logging.RedisLogger{Log: log}) // process-wide: see app.Open

	dir, err := devdir.Parse(demo.Directory)
	if err != nil {
		return nil, err
	}
	mr := miniredis.NewMiniRedis()
	mr.ClockTTL(true) // keys expire with the wall clock, as in Redis
	if err := mr.Start(); err != nil {
		return nil, fmt.Errorf("in-process redis: %w", err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	rp := demorp.New(demorp.Config{
		Issuer: devIssuer, ClientID: ClientID, ClientSecret: secret,
		BaseURL: devIssuer + "/demo", Log: log,
	})
	// ldapsync runs in-process, writing to the demo directory; both key
	// pairs are made here.
	key, err := job.GenerateKey()
	if err != nil {
		return nil, err
	}
	cfg.Ldapsync.PublicKey = job.MarshalPublicKey(key.PublicKey())
	if cfg.Ldapsync.SigningKey, err = job.GenerateSigningKey(); err != nil {
		return nil, err
	}
	worker, err := ldapsync.New(ldapsync.Options{
		Redis: rdb, Prefix: cfg.Redis.KeyPrefix, PrivateKeys: []hpke.PrivateKey{key},
		WebPublicKeys: []ed25519.PublicKey{cfg.Ldapsync.SigningKey.Public().(ed25519.PublicKey)}, Writer: dir, Log: log,
		RetryBackoff: time.Second, PollInterval: 100 * time.Millisecond,
	})
	if err != nil {
		return nil, err
	}
	up, upCfg, err := startDemoUpstream(cfg)
	if err != nil {
		return nil, err
	}
	withDemoUpstream(cfg, upCfg)
	a, err := app.Build(cfg, app.Deps{
		Redis: rdb, Directory: dir, Accounts: dir, Log: log, Outbox: ConsoleOutbox{Out: out}, Worker: worker.Run,
		Extra: map[string]http.Handler{"/demo/": rp},
	})
	if err != nil {
		_ = rdb.Close()
		mr.Close()
		_ = up.Close()
		return nil, err
	}
	a.OnClose(up.Close)
	a.OnClose(func() error { mr.Close(); return nil })
	a.OnClose(rdb.Close)

	fmt.Fprintf(out, "\nDEV MODE — never use in production: in-memory Redis, demo directory, random keys.\n\n")
	fmt.Fprintf(out, "  Demo site:  %s/demo/\n  Issuer:     %s\n  Client:     %s  secret %s\n\n  Demo accounts (identifier / password):\n",
		devIssuer, devIssuer, ClientID, secret)
	for _, acc := range dir.Accounts() {
		fmt.Fprintf(out, "    %-10s %-28s %s\n", acc.UID, acc.Password, acc.Mail)
	}
	fmt.Fprintf(out, "\n  « Je suis un agent du siège » signs in at a demo upstream provider (%s):\n    %s  %s\n",
		up.issuer, up.username, up.password)
	fmt.Fprintln(out)
	return a, nil
}
