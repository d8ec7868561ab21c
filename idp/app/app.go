// Package app builds the web tier from a loaded configuration: every
// package wired together, background work started, one http.Handler.
// cmd/idp calls Open; dev mode and the tests call Build with their own
// outside parts. The product rules live in the packages it wires; this
// one only connects them.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/audit"
	"github.com/region-nouvelle-aquitaine/idp/idp/backchannel"
	"github.com/region-nouvelle-aquitaine/idp/idp/completion"
	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/login"
	"github.com/region-nouvelle-aquitaine/idp/idp/mail"
	"github.com/region-nouvelle-aquitaine/idp/idp/provider"
	"github.com/region-nouvelle-aquitaine/idp/idp/reset"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/metrics"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/tracing"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/throttle"
)

// App is the built web tier.
type App struct {
	Listen   string
	Issuer   string
	Handler  http.Handler
	Provider *provider.Provider // nil in the reset-only mode
	Log      *slog.Logger
	// MetricsAddr is where /metrics is served; "" when metrics are off.
	MetricsAddr string
	closers     []func() error
}

// Close stops the background work (mail, completion, in-process worker)
// and releases what Open or the caller's Deps brought, last first.
func (a *App) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		_ = a.closers[i]()
	}
}

// OnClose adds f to what Close runs (dev mode closes its embedded parts).
func (a *App) OnClose(f func() error) { a.closers = append(a.closers, f) }

// Deps are the outside parts: real ones in production (Open), embedded
// ones in dev mode and in tests.
type Deps struct {
	Redis     redis.UniversalClient
	Directory login.Directory
	Accounts  reset.Accounts
	// Outbox replaces the SMTP pipeline (dev mode prints mail instead).
	Outbox reset.Outbox
	// MailTweak adjusts the mail pipeline (tests shorten its delays).
	MailTweak func(*mail.Config)
	// CompletionTweak adjusts the consumer of settled changes (tests).
	CompletionTweak func(*completion.Config)
	// Worker, when set, runs ldapsync in this process (dev mode, tests).
	Worker func(context.Context) error
	Now    func() time.Time
	Log    *slog.Logger
	// Extra routes (the demo site).
	Extra map[string]http.Handler

	tracer *tracing.Provider // made by Build from the tracing section
	// Metrics is the process's registry when the caller made it (Open,
	// to count the directory's operations too); nil: Build makes one when
	// the configuration has a metrics section.
	Metrics *metrics.Registry
}

// Build wires every package from the configuration and the outside parts.
func Build(cfg *config.Config, d Deps) (*App, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	var m *webMetrics
	if cfg.Metrics.Enabled() {
		if d.Metrics == nil {
			d.Metrics = metrics.New("idp")
		}
		m = newWebMetrics(d.Metrics)
		d.Log = slog.New(auditCounter{next: d.Log.Handler(), m: m})
		d.Redis.AddHook(m.RedisHook())
	}
	// The OIDC library logs through the default logger; it would log the
	// relying parties' state.
	slog.SetDefault(slog.New(provider.RedactLibraryLogs(d.Log.Handler())))
	tp, err := newTracer(cfg, d.Log)
	if err != nil {
		return nil, err
	}
	d.tracer = tp
	st := store.New(store.Options{
		Client: d.Redis, Prefix: cfg.Redis.KeyPrefix, Now: d.Now,
		// As long as anything issued before a revocation could still be
		// shown: sessions, refresh tokens, and device cookies (a year).
		RevocationTTL: max(cfg.Session.Lifetime, cfg.OIDC.RefreshTokenLifetime, login.DeviceLifetime),
	})
	outbox, runMail, err := mailPipeline(cfg, d, m)
	if err != nil {
		return nil, err
	}
	queue := job.NewQueue(job.Options{Client: d.Redis, Prefix: cfg.Redis.KeyPrefix, Now: d.Now})
	if m != nil {
		m.MustRegister(metrics.Queue(m.Namespace, queue))
	}
	identifiers := audit.NewIdentifiers(cfg.Secrets.CookieKey)
	var signinThrottle login.Throttle // a nil *throttle.Limiter must stay a nil interface
	var forget completion.Throttle
	limiter := throttle.FromConfig(cfg.Throttle, d.Redis, cfg.Redis.KeyPrefix, d.Now, d.Log)
	if limiter != nil {
		signinThrottle, forget = limiter, throttle.NewPersonForgetter(limiter, identifiers.Hash)
	}
	// The one place the mode matters: reset-only builds no provider (no
	// client, no signing key) and serves only « Mot de passe perdu ».
	var prov *provider.Provider
	var bc *backchannel.Notifier
	if cfg.Mode != config.ModeResetOnly {
		if prov, err = newProvider(cfg, d, st); err != nil {
			return nil, err
		}
		if bc, err = newBackchannel(cfg, d, st, prov, m); err != nil {
			return nil, err
		}
	}
	runCompletion, err := completionConsumer(cfg, d, st, queue, outbox, forget, bc)
	if err != nil {
		return nil, err
	}
	var w pagesOut
	if cfg.Mode == config.ModeResetOnly {
		w, err = resetOnlyPages(cfg, d, st, queue, outbox)
	} else {
		w, err = newPages(cfg, d, st, prov, queue, outbox, signinThrottle, identifiers, bc)
	}
	if err != nil {
		return nil, err
	}
	var runBackchannel func(context.Context) error
	if bc != nil {
		runBackchannel = bc.Run
	}
	a := &App{Listen: cfg.Listen, Issuer: cfg.Issuer, Handler: w.handler, Provider: prov, Log: d.Log}
	a.OnClose(shutdownTracer(tp))
	if m != nil {
		a.Handler = m.observeHTTP(a.Handler)
		// Its own listener: the public one never serves /metrics.
		srv, err := metrics.Listen(cfg.Metrics.Listen, m.Mux(), d.Log)
		if err != nil {
			return nil, err
		}
		a.MetricsAddr = srv.Addr()
		a.closers = append(a.closers, srv.Close)
	}
	tasks := map[string]func(context.Context) error{
		"mail sender": runMail, "completion consumer": runCompletion, "in-process ldapsync": d.Worker,
		"back-channel logout": runBackchannel,
	}
	if prov != nil {
		tasks["signing key rotation"] = prov.RunKeyRotation
	}
	a.background(d.Log, func() {
		w.lost.Wait()
		if limiter != nil {
			limiter.Wait()
		}
	}, tasks)
	return a, nil
}

// background runs each task until Close, which first lets the handlers'
// own work end (drain), then stops the tasks and waits for them.
func (a *App) background(log *slog.Logger, drain func(), tasks map[string]func(context.Context) error) {
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for name, run := range tasks {
		if run == nil {
			continue
		}
		wg.Go(func() {
			if err := run(ctx); err != nil {
				log.Error(name+" stopped", "err", err)
			}
		})
	}
	a.closers = append(a.closers, func() error {
		drain()
		stop()
		wg.Wait()
		return nil
	})
}

// Serve listens on a.Listen and serves until ctx ends, then shuts down
// gracefully.
func (a *App) Serve(ctx context.Context) error {
	ln, err := net.Listen("tcp", a.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	// GOMAXPROCS is in the line because, with no CPU limit, the runtime
	// sizes it to the whole machine (README, « Capacity »).
	a.Log.Info("listening", "addr", ln.Addr().String(), "issuer", a.Issuer, "gomaxprocs", runtime.GOMAXPROCS(0))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	a.Log.Info("shutting down")
	return srv.Shutdown(shutdown)
}
