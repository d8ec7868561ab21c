package ldapsync

import (
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestJobSpans: a claimed job is one trace, its claim and its directory
// write under it; empty polls make no span.
func TestJobSpans(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SlapdOptions{})
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	stop := start(t, e.worker("w1", func(w *Worker) { w.Tracer = tp }))
	j := e.submit(t, "jdupont", "Nouveau-Mot-De-Passe-1")
	e.waitSettled(t, j.ID)
	stop()

	byName := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range spans.Ended() {
		byName[s.Name()] = append(byName[s.Name()], s)
	}
	if len(byName["ldapsync.job"]) != 1 || len(byName["ldapsync.claim"]) != 1 || len(byName["ldapsync.directory_write"]) != 1 {
		t.Fatalf("spans %v: want one job, one claim, one directory write (no span for empty polls)", byName)
	}
	root := byName["ldapsync.job"][0].SpanContext()
	for _, name := range []string{"ldapsync.claim", "ldapsync.directory_write"} {
		if s := byName[name][0]; s.Parent().SpanID() != root.SpanID() || s.SpanContext().TraceID() != root.TraceID() {
			t.Errorf("%s is not under ldapsync.job", name)
		}
	}
}
