// Package tracing makes the OpenTelemetry tracer provider of both
// binaries (OTLP over HTTP, off unless an endpoint is configured), the
// middleware that opens one span per HTTP request, and Start, which the
// packages call to open their own spans under the one in their context.
package tracing

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/httpstatus"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/version"
)

// Instrumentation is the name of this module's tracer.
const Instrumentation = "github.com/region-nouvelle-aquitaine/idp"

// Config is the tracing section.
type Config struct {
	// Endpoint is the OTLP/HTTP traces URL of the collector
	// ("https://collector:4318/v1/traces"; without a path, /v1/traces).
	// Empty: tracing is off, nothing is dialled.
	Endpoint string
	// SampleRatio of the traces started here (0 to 1); a request that
	// carries a sampled traceparent is always traced.
	SampleRatio float64
	ServiceName string
}

// Provider is a tracer provider and what flushes it.
type Provider struct {
	trace.TracerProvider
	// Shutdown flushes the spans still buffered; a no-op when off.
	Shutdown func(context.Context) error
	// Enabled is false for the no-op provider.
	Enabled bool
}

// New returns the provider of c: a no-op one without an endpoint. It
// dials nothing: the exporter connects when it first sends.
func New(c Config) (*Provider, error) {
	if c.Endpoint == "" {
		return &Provider{TracerProvider: noop.NewTracerProvider(), Shutdown: func(context.Context) error { return nil }}, nil
	}
	u, err := url.Parse(c.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("tracing endpoint: %w", err)
	}
	path := u.Path
	if path == "" || path == "/" {
		path = "/v1/traces"
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(u.Host), otlptracehttp.WithURLPath(path)}
	if u.Scheme == "http" {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	exp, err := otlptracehttp.New(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing exporter: %w", err)
	}
	res := resource.NewSchemaless(semconv.ServiceName(c.ServiceName), semconv.ServiceVersion(version.String()))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(c.SampleRatio))),
	)
	return &Provider{TracerProvider: tp, Shutdown: tp.Shutdown, Enabled: true}, nil
}

// Propagator reads and writes the W3C traceparent and baggage headers.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// Middleware opens a server span per request of next, child of the
// caller's traceparent when it sends one, so that the spans of the
// handlers (and of the OIDC library) nest under it. A nil tp is none.
func Middleware(tp trace.TracerProvider, next http.Handler) http.Handler {
	if tp == nil {
		return next
	}
	tracer, prop := tp.Tracer(Instrumentation), Propagator()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := tracer.Start(ctx, r.Method+" "+r.URL.Path, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(semconv.HTTPRequestMethodKey.String(r.Method), semconv.URLPath(r.URL.Path)))
		defer span.End()
		rec := httpstatus.New(w)
		next.ServeHTTP(rec, r.WithContext(ctx))
		status := rec.Status()
		span.SetAttributes(semconv.HTTPResponseStatusCode(status))
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	})
}

// Start opens a span named name under the span of ctx, with the tracer
// provider of that span: code under an HTTP request or a traced job needs
// no provider of its own, and without one the span is a no-op.
func Start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	tp := trace.SpanFromContext(ctx).TracerProvider()
	return tp.Tracer(Instrumentation).Start(ctx, name, trace.WithAttributes(attrs...))
}

// End records err (if any) on span and ends it.
func End(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
