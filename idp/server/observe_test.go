package server

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/region-nouvelle-aquitaine/idp/idp/audit"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/logging"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/tracing"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
)

// TestObserve: the access log at its own level (off keeps the audit
// lines), every line with the request id, client address and trace ids,
// and the request span child of the caller's traceparent.
func TestObserve(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		logLevel  slog.Level
		access    slog.Level
		accessOut bool
	}{
		{"default: info", slog.LevelInfo, 0, true},
		{"debug, hidden at info", slog.LevelInfo, slog.LevelDebug, false},
		{"debug, shown at debug", slog.LevelDebug, slog.LevelDebug, true},
		{"off", slog.LevelDebug, logging.LevelOff, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			log := logging.New(&buf, logging.JSON, tc.logLevel)
			spans := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
			app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, span := tracing.Start(r.Context(), "inner")
				span.End()
				audit.Log(r.Context(), log, audit.Event{Name: audit.SignInSuccess, RequestID: web.RequestID(r.Context())})
				log.InfoContext(r.Context(), "handler line")
			})
			h := observe(Observe{Tracer: tp, AccessLevel: tc.access,
				ClientIP: func(*http.Request) netip.Addr { return netip.MustParseAddr("198.51.100.4") }}, log, app)
			// The caller's trace, as a relying party or a proxy sends it.
			parent, pspan := sdktrace.NewTracerProvider().Tracer("rp").Start(context.Background(), "rp")
			req := httptest.NewRequest(http.MethodPost, "/login", nil)
			tracing.Propagator().Inject(parent, propagation.HeaderCarrier(req.Header))
			pspan.End()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			reqID := rec.Header().Get("X-Request-Id")
			var access, auditLine, handler map[string]any
			for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatalf("not JSON: %q", l)
				}
				switch {
				case m["msg"] == "http":
					access = m
				case m["audit"] != nil:
					auditLine = m
				case m["msg"] == "handler line":
					handler = m
				}
			}
			if (access != nil) != tc.accessOut {
				t.Fatalf("access line present = %v, want %v:\n%s", access != nil, tc.accessOut, buf.String())
			}
			if auditLine == nil || handler == nil {
				t.Fatalf("audit or handler line missing:\n%s", buf.String())
			}
			trace := pspan.SpanContext().TraceID().String()
			for _, m := range []map[string]any{access, auditLine, handler} {
				if m == nil {
					continue
				}
				if m["request_id"] != reqID || m["trace_id"] != trace {
					t.Errorf("line %v: want request_id %s and trace_id %s", m, reqID, trace)
				}
			}
			if handler["client_addr"] != "198.51.100.4" {
				t.Errorf("client_addr = %v", handler["client_addr"])
			}
			if access != nil {
				if d, ok := access["duration"].(string); !ok || !strings.HasSuffix(d, "s") {
					t.Errorf("duration = %#v, want text such as \"1.2ms\"", access["duration"])
				}
			}
			ended := spans.Ended()
			if len(ended) != 2 {
				t.Fatalf("%d spans, want the request's and the inner one", len(ended))
			}
			inner, server := ended[0], ended[1]
			if server.Parent().SpanID() != pspan.SpanContext().SpanID() || inner.Parent().SpanID() != server.SpanContext().SpanID() {
				t.Errorf("spans do not nest: caller → %s → %s", server.Name(), inner.Name())
			}
		})
	}
}
