package app

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/server"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/tracing"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
)

// newTracer makes the tracer provider of the tracing section. When on, it
// becomes otel's global provider, the one global of this process besides
// slog's default: the OIDC library opens its spans (Authorize,
// AuthResponse, token exchange…) with a tracer taken from the global at
// its start-up, which delegates to the first provider set. Export errors
// go to log rather than to otel's own plain-text logger.
func newTracer(cfg *config.Config, log *slog.Logger) (*tracing.Provider, error) {
	t := cfg.Tracing
	tp, err := tracing.New(tracing.Config{Endpoint: t.Endpoint, SampleRatio: t.SampleRatio, ServiceName: t.ServiceName})
	if err != nil || !tp.Enabled {
		return tp, err
	}
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(tracing.Propagator())
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("tracing: export failed", "err", err) }))
	return tp, nil
}

// observe is the server's part of it: request spans (only when tracing is
// on), the access log level, the client address of the log lines.
func observe(cfg *config.Config, tp *tracing.Provider) server.Observe {
	o := server.Observe{
		AccessLevel: cfg.Log.Access,
		ClientIP:    func(r *http.Request) netip.Addr { return web.ClientIP(r, cfg.TrustedProxies) },
	}
	if tp != nil && tp.Enabled {
		o.Tracer = tp
	}
	return o
}

// shutdownTracer flushes the spans still buffered, briefly.
func shutdownTracer(tp *tracing.Provider) func() error {
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return tp.Shutdown(ctx)
	}
}
