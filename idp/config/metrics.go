package config

import (
	"net"
	"strings"
)

// Metrics is the Prometheus listener of the metrics section, the same for
// the web tier and ldapsync. It is off unless listen is given: metrics
// are served on their own address, never on the public one, so that the
// reverse proxy need not hide them. ldapsync also answers its health
// probes (/healthz, /ready) there.
type Metrics struct {
	Listen string // host:port of /metrics; "": no listener
}

// Enabled reports whether a metrics listener is configured.
func (m Metrics) Enabled() bool { return m.Listen != "" }

func (d *decoder) decodeMetrics(m *mapping, c *Metrics) {
	m.str("listen", &c.Listen)
	m.done()
}

func (v *validator) metrics(c Metrics, public string) {
	if !v.d.given("metrics.listen") {
		return
	}
	host, port, err := net.SplitHostPort(c.Listen)
	switch {
	case err != nil || !validPort(port, true) || strings.ContainsAny(host, " /"):
		v.report("metrics.listen", "%q is not a listen address such as \"127.0.0.1:9090\"", c.Listen)
	case public != "" && c.Listen == public:
		v.report("metrics.listen", "must differ from listen: metrics get a listener of their own, out of the public's reach")
	}
}
