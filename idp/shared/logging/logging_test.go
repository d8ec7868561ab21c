package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/logging"
)

// lines decodes every JSON line of buf.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON line: %q", l)
		}
		out = append(out, m)
	}
	return out
}

func TestContextAttributes(t *testing.T) {
	tp := sdktrace.NewTracerProvider() // samples everything: its spans record
	defer func() { _ = tp.Shutdown(context.Background()) }()
	traced, span := tp.Tracer("test").Start(context.Background(), "op")
	defer span.End()
	sc := span.SpanContext()
	// A valid span context that is not recording (a caller's, unsampled).
	remote := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2},
	}))

	for _, tc := range []struct {
		name  string
		ctx   context.Context
		attrs []any
		want  map[string]any // nil value: the key must be absent
	}{
		{"empty context", context.Background(), nil,
			map[string]any{"request_id": nil, "client_addr": nil, "trace_id": nil, "span_id": nil}},
		{"request id and client", logging.WithClientAddr(logging.WithRequestID(context.Background(), "REQ1"), "192.0.2.7"), nil,
			map[string]any{"request_id": "REQ1", "client_addr": "192.0.2.7", "trace_id": nil}},
		{"recording span", traced, nil,
			map[string]any{"trace_id": sc.TraceID().String(), "span_id": sc.SpanID().String()}},
		{"span not recording", remote, nil, map[string]any{"trace_id": nil, "span_id": nil}},
		{"explicit request id wins, once", logging.WithRequestID(context.Background(), "CTX"), []any{"request_id", "ARG"},
			map[string]any{"request_id": "ARG"}},
		{"durations as text", context.Background(), []any{"retry_in", 1500 * time.Millisecond, slog.Group("g", "d", 12300*time.Microsecond)},
			map[string]any{"retry_in": "1.5s", "g": map[string]any{"d": "12.3ms"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			logging.New(&buf, logging.JSON, slog.LevelInfo).InfoContext(tc.ctx, "m", tc.attrs...)
			if n := strings.Count(buf.String(), `"request_id"`); n > 1 {
				t.Errorf("request_id %d times: %s", n, buf.String())
			}
			got := lines(t, &buf)[0]
			for k, want := range tc.want {
				v, ok := got[k]
				switch {
				case want == nil && ok:
					t.Errorf("%s = %v, want absent", k, v)
				case want != nil && !equal(v, want):
					t.Errorf("%s = %#v, want %#v", k, v, want)
				}
			}
		})
	}
}

func equal(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func TestLevelsAndWith(t *testing.T) {
	var buf bytes.Buffer
	log := logging.New(&buf, logging.JSON, slog.LevelWarn).With("lease", time.Minute)
	log.Info("dropped")
	log.Warn("kept")
	got := lines(t, &buf)
	if len(got) != 1 || got[0]["msg"] != "kept" || got[0]["lease"] != "1m0s" {
		t.Fatalf("got %v, want only the WARN line with lease as text", got)
	}
	var never bytes.Buffer
	logging.New(&never, logging.JSON, logging.LevelOff).Error("x")
	if never.Len() != 0 {
		t.Errorf("LevelOff logged %q", never.String())
	}
}

func TestTextFormat(t *testing.T) {
	var buf bytes.Buffer
	logging.New(&buf, logging.Text, slog.LevelInfo).InfoContext(logging.WithRequestID(context.Background(), "R"), "m", "d", time.Second)
	if s := buf.String(); !strings.Contains(s, "request_id=R") || !strings.Contains(s, "d=1s") {
		t.Errorf("text line %q lacks request_id=R or d=1s", s)
	}
}

func TestRedisLogger(t *testing.T) {
	var buf bytes.Buffer
	l := logging.RedisLogger{Log: logging.New(&buf, logging.JSON, slog.LevelInfo)}
	l.Printf(context.Background(), "redis: connection pool: failed to dial after %d attempts: %v\n", 5, "refused")
	l.Printf(nil, "Conn has unread data") //nolint:staticcheck // go-redis passes nil at times
	got := lines(t, &buf)
	if len(got) != 2 {
		t.Fatalf("got %d lines: %s", len(got), buf.String())
	}
	for i, want := range []string{"redis: connection pool: failed to dial after 5 attempts: refused", "redis: Conn has unread data"} {
		if got[i]["level"] != "WARN" || got[i]["msg"] != want {
			t.Errorf("line %d = %v, want WARN %q", i, got[i], want)
		}
	}
}
