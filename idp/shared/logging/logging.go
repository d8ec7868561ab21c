// Package logging is the one slog handler both binaries log through: the
// JSON (or text) handler, plus what the context knows about the work in
// progress (request id, client address, trace and span ids), and every
// duration written as text ("12.3ms") rather than nanoseconds.
package logging

import (
	"context"
	"io"
	"log/slog"
	"math"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Formats of New.
const (
	JSON = "json"
	Text = "text"
)

// LevelOff is a level no record is logged at: a logger set to it is
// silent (the access log turned off).
const LevelOff = slog.Level(math.MaxInt32)

// Context attribute keys.
const (
	RequestIDKey  = "request_id"
	ClientAddrKey = "client_addr"
	TraceIDKey    = "trace_id"
	SpanIDKey     = "span_id"
)

// New logs to w in format (JSON unless Text) from level on.
func New(w io.Writer, format string, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if format == Text {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(Wrap(h))
}

// Wrap adds the context's attributes to every record next handles and
// writes durations as text.
func Wrap(next slog.Handler) slog.Handler {
	if h, ok := next.(*handler); ok {
		return h
	}
	return &handler{next: next}
}

// handler adds the context attributes at record level: after a WithGroup
// they land in that group (slog has no way back to the top level).
type handler struct{ next slog.Handler }

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	seen := map[string]bool{}
	r.Attrs(func(a slog.Attr) bool {
		seen[a.Key] = true
		out.AddAttrs(textDurations(a))
		return true
	})
	add := func(key, value string) {
		if value != "" && !seen[key] {
			out.AddAttrs(slog.String(key, value))
		}
	}
	if ctx != nil {
		add(RequestIDKey, RequestID(ctx))
		if !seen["ip"] { // audit events carry it already
			add(ClientAddrKey, ClientAddr(ctx))
		}
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() && trace.SpanFromContext(ctx).IsRecording() {
			add(TraceIDKey, sc.TraceID().String())
			add(SpanIDKey, sc.SpanID().String())
		}
	}
	return h.next.Handle(ctx, out)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	fixed := make([]slog.Attr, len(as))
	for i, a := range as {
		fixed[i] = textDurations(a)
	}
	return &handler{next: h.next.WithAttrs(fixed)}
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &handler{next: h.next.WithGroup(name)}
}

// textDurations rewrites a time.Duration, in a or its groups, as text.
func textDurations(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindDuration:
		return slog.String(a.Key, v.Duration().String())
	case slog.KindGroup:
		g := v.Group()
		fixed := make([]slog.Attr, len(g))
		for i, ga := range g {
			fixed[i] = textDurations(ga)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(fixed...)}
	case slog.KindAny:
		if d, ok := v.Any().(time.Duration); ok {
			return slog.String(a.Key, d.String())
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

type requestIDKey struct{}
type clientAddrKey struct{}

// WithRequestID returns ctx carrying the request id id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID is the request id of ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// WithClientAddr returns ctx carrying the client's address.
func WithClientAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientAddrKey{}, addr)
}

// ClientAddr is the client address of ctx, or "".
func ClientAddr(ctx context.Context) string {
	a, _ := ctx.Value(clientAddrKey{}).(string)
	return a
}
