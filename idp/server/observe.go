package server

import (
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/httpstatus"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/logging"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/tracing"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
)

// Observe is how requests are seen from outside: spans, the context of
// every log line, the access log.
type Observe struct {
	// Tracer opens the span of each request (nil: none).
	Tracer trace.TracerProvider
	// AccessLevel is the level of the access log line of each request;
	// logging.LevelOff: none. Zero is info.
	AccessLevel slog.Level
	// ClientIP is the client's address (trusted proxies applied) put in
	// the context of every log line; nil: the peer address.
	ClientIP func(*http.Request) netip.Addr
}

// observe wraps next, outermost first: the request span (so that the
// request id and every handler's span nest in it), the request id, the
// client address, the access log.
func observe(o Observe, log *slog.Logger, next http.Handler) http.Handler {
	h := accessLog(log, o.AccessLevel, next)
	clientIP := o.ClientIP
	if clientIP == nil {
		clientIP = func(r *http.Request) netip.Addr { return web.ClientIP(r, nil) }
	}
	withAddr := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if a := clientIP(r); a.IsValid() {
			ctx = logging.WithClientAddr(ctx, a.String())
		}
		h.ServeHTTP(w, r.WithContext(ctx))
	})
	return tracing.Middleware(o.Tracer, web.WithRequestID(withAddr))
}

// accessLog logs one line per request at level (none at logging.LevelOff):
// method, path, status and duration; request id, client address and trace
// come from the context.
func accessLog(log *slog.Logger, level slog.Level, next http.Handler) http.Handler {
	if level == logging.LevelOff {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := httpstatus.New(w)
		next.ServeHTTP(rec, r)
		ctx := r.Context()
		if !log.Enabled(ctx, level) {
			return
		}
		// Built by hand: Logger.Log would look up its caller, which this
		// line never shows, at a cost that counts on every request.
		line := slog.NewRecord(time.Now(), level, "http", 0)
		line.AddAttrs(slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", rec.Status()), slog.String("duration", time.Since(start).String()))
		_ = log.Handler().Handle(ctx, line)
	})
}
