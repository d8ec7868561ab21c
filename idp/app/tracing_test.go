package app_test

import (
	"compress/gzip"
	"encoding/hex"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// collector is an in-process OTLP/HTTP receiver: it keeps every span of
// every export request.
type collector struct {
	mu    sync.Mutex
	spans []*tracev1.Span
	srv   *httptest.Server
}

func startCollector(t *testing.T) *collector {
	c := &collector{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("collector: %s %s %s", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			http.Error(w, "unexpected", http.StatusBadRequest)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			gz, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = gz
		}
		raw, _ := io.ReadAll(body)
		var req coltrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(raw, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				c.spans = append(c.spans, ss.Spans...)
			}
		}
		c.mu.Unlock()
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *collector) received() []*tracev1.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.spans)
}

// traceparentTransport is a relying party that propagates its trace: every
// request carries the same W3C traceparent.
type traceparentTransport struct {
	next        http.RoundTripper
	traceparent string
}

func (t traceparentTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Traceparent", t.traceparent)
	return t.next.RoundTrip(r)
}

// TestSignInIsOneTrace: with tracing on, a sign-in from /authorize to the
// token response, whose relying party sends a traceparent, reaches an
// OTLP collector as one trace: the request spans, our own (directory
// calls) and the OIDC library's, each under its request.
func TestSignInIsOneTrace(t *testing.T) {
	// The batch exporter sends every 5 s by default; the test waits less.
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
	col := startCollector(t)
	s := startStackWith(t, stackOptions{Config: func(c *config.Config) {
		c.Tracing = config.Tracing{Endpoint: col.srv.URL, Insecure: true, SampleRatio: 0, ServiceName: "idp"}
	}})
	st := s.Sites[0]
	const traceID, rpSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	rp := traceparentTransport{next: http.DefaultTransport, traceparent: "00-" + traceID + "-" + rpSpan + "-01"}

	b := newBrowserless(t, s)
	b.client.Transport = rp
	code, verifier := b.code(st, nil)
	form := codeForm(code, verifier, st.URL+"/callback")
	req, _ := http.NewRequest(http.MethodPost, s.Issuer+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(st.ClientID), url.QueryEscape(st.Secret))
	resp, err := (&http.Client{Transport: rp}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token: %d", resp.StatusCode)
	}

	// Sample ratio 0: only the relying party's sampled traceparent makes
	// these spans exported (parent-based sampling).
	want := []string{"GET /authorize", "POST /login", "login.directory_find", "login.directory_verify",
		"POST /oauth/token", "Authorize", "CreateAuthRequestCode"}
	var spans []*tracev1.Span
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		spans = col.received()
		names := map[string]bool{}
		for _, sp := range spans {
			names[sp.Name] = true
		}
		for _, n := range want {
			if !names[n] {
				return false, "no span " + n + " among " + strings.Join(slices.Sorted(maps.Keys(names)), ", ")
			}
		}
		return true, ""
	})
	ids := map[string]bool{rpSpan: true}
	for _, sp := range spans {
		ids[hex.EncodeToString(sp.SpanId)] = true
	}
	for _, sp := range spans {
		if got := hex.EncodeToString(sp.TraceId); got != traceID {
			t.Errorf("span %s in trace %s, want the relying party's %s", sp.Name, got, traceID)
		}
		if parent := hex.EncodeToString(sp.ParentSpanId); !ids[parent] {
			t.Errorf("span %s has parent %q, neither a span of the flow nor the relying party's", sp.Name, parent)
		}
	}
}
