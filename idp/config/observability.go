package config

import (
	"log/slog"
	"net/url"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/logging"
)

// Tracing is the tracing section: OpenTelemetry traces sent over OTLP/HTTP
// to a collector. Off unless Endpoint is given.
type Tracing struct {
	// Endpoint is the collector's OTLP/HTTP URL ("https://otel:4318";
	// without a path, /v1/traces). http only with Insecure, on a loopback
	// host (a collector beside the process).
	Endpoint    string
	Insecure    bool
	SampleRatio float64 // 0 to 1, default 1; a traced caller's choice is kept
	ServiceName string  // default "idp" or "ldapsync"
}

// LogAccessOff is log.access: off, the level at which no access line is
// logged (the audit lines stay).
const LogAccessOff = logging.LevelOff

func (d *decoder) decodeTracing(m *mapping, t *Tracing) {
	m.str("endpoint", &t.Endpoint)
	m.boolean("insecure", &t.Insecure)
	m.ratio("sample_ratio", &t.SampleRatio)
	m.str("service_name", &t.ServiceName)
	m.done()
}

// decodeAccess reads log.access: info (default), debug or off.
func decodeAccess(m *mapping, l *Log) {
	var access string
	if m.oneOf("access", &access, "info", "debug", "off") {
		l.Access = logLevels[access]
		if access == "off" {
			l.Access = LogAccessOff
		}
	}
}

// ratio reads a number from 0 to 1.
func (m *mapping) ratio(name string, dst *float64) {
	v := m.get(name)
	if v == nil {
		return
	}
	path := childPath(m.path, name)
	f, err := strconv.ParseFloat(v.Value, 64)
	if v.Kind != yaml.ScalarNode || (v.ShortTag() != "!!float" && v.ShortTag() != "!!int") || err != nil || f < 0 || f > 1 {
		m.d.problem(v, path, "must be a number from 0 to 1, not %s", describe(v))
		return
	}
	*dst = f
}

func (d *decoder) tracingDefaults(t *Tracing, service string) {
	if !d.given("tracing.sample_ratio") {
		t.SampleRatio = 1
	}
	if !d.given("tracing.service_name") {
		t.ServiceName = service
	}
}

func (v *validator) tracing(t Tracing) {
	const p = "tracing.endpoint"
	if t.Endpoint == "" {
		if v.d.given("tracing.insecure") && t.Insecure {
			v.report("tracing.insecure", "has no use without tracing.endpoint")
		}
		return
	}
	u, err := url.Parse(t.Endpoint)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		v.report(p, "%q is not a collector URL such as \"https://otel-collector:4318\"", t.Endpoint)
		return
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !t.Insecure || !IsLoopback(u.Hostname()) {
			v.report(p, "%q must use https (http is only allowed for a loopback host with tracing.insecure: true)", t.Endpoint)
		}
	default:
		v.report(p, "%q must use https", t.Endpoint)
	}
	if strings.TrimSpace(t.ServiceName) == "" {
		v.report("tracing.service_name", "must not be empty")
	}
}

// accessDefault is log.access's default.
func (d *decoder) accessDefault(l *Log) {
	if !d.given("log.access") {
		l.Access = slog.LevelInfo
	}
}
