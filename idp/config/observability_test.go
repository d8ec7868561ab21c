package config

import (
	"log/slog"
	"strings"
	"testing"
)

func TestObservabilityDefaults(t *testing.T) {
	t.Parallel()
	c := mustParse(t, minimalWith(t), nil)
	if c.Log.Access != slog.LevelInfo {
		t.Errorf("log.access = %v, want info", c.Log.Access)
	}
	if want := (Tracing{SampleRatio: 1, ServiceName: "idp"}); c.Tracing != want {
		t.Errorf("tracing = %+v, want %+v (off)", c.Tracing, want)
	}
}

func TestObservabilityValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, yaml string
		access     slog.Level
		tracing    Tracing
	}{
		{"access off", "log: {access: off}\n", LogAccessOff, Tracing{SampleRatio: 1, ServiceName: "idp"}},
		{"access debug", "log: {level: debug, access: debug}\n", slog.LevelDebug, Tracing{SampleRatio: 1, ServiceName: "idp"}},
		{"https collector", "tracing: {endpoint: \"https://otel.example.org:4318\", sample_ratio: 0.25, service_name: connexion}\n",
			slog.LevelInfo, Tracing{Endpoint: "https://otel.example.org:4318", SampleRatio: 0.25, ServiceName: "connexion"}},
		{"loopback collector", "tracing: {endpoint: \"http://127.0.0.1:4318/v1/traces\", insecure: true, sample_ratio: 0}\n",
			slog.LevelInfo, Tracing{Endpoint: "http://127.0.0.1:4318/v1/traces", Insecure: true, ServiceName: "idp"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := mustParse(t, minimalWith(t)+tc.yaml, nil)
			if c.Log.Access != tc.access || c.Tracing != tc.tracing {
				t.Errorf("access %v, tracing %+v; want %v, %+v", c.Log.Access, c.Tracing, tc.access, tc.tracing)
			}
		})
	}
}

func TestObservabilityRules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, yaml, path, inMsg string
	}{
		{"access level unknown", "log: {access: warn}\n", "log.access", "use info, debug or off"},
		{"http without insecure", "tracing: {endpoint: \"http://127.0.0.1:4318\"}\n", "tracing.endpoint", "must use https"},
		{"insecure off loopback", "tracing: {endpoint: \"http://otel:4318\", insecure: true}\n", "tracing.endpoint", "loopback"},
		{"not a URL", "tracing: {endpoint: \"otel:4318\"}\n", "tracing.endpoint", "is not a collector URL"},
		{"ratio above 1", "tracing: {endpoint: \"https://otel:4318\", sample_ratio: 1.5}\n", "tracing.sample_ratio", "from 0 to 1"},
		{"ratio as text", "tracing: {endpoint: \"https://otel:4318\", sample_ratio: \"all\"}\n", "tracing.sample_ratio", "from 0 to 1"},
		{"insecure alone", "tracing: {insecure: true}\n", "tracing.insecure", "without tracing.endpoint"},
		{"unknown key", "tracing: {endpont: \"https://otel:4318\"}\n", "tracing", `unknown key "endpont"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, errs := parse(t, minimalWith(t)+tc.yaml, nil)
			if len(errs) != 1 {
				t.Fatalf("want 1 problem, got %d:\n%v", len(errs), errs)
			}
			if p := errs[0]; p.Path != tc.path || !strings.Contains(p.Message, tc.inMsg) {
				t.Errorf("got %s\nwant path %q, message containing %q", p, tc.path, tc.inMsg)
			}
		})
	}
}
