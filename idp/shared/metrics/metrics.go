// Package metrics is what both binaries share of their Prometheus
// metrics: a private registry (never the library's global one) with the
// build info and the Go runtime, the recorders of LDAP operations and
// Redis errors, and the listener that serves /metrics apart from the
// public address. Each composition root (idp/app, ldapsync/app) adds its
// own metrics under its own namespace ("idp", "ldapsync").
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/version"
)

// Buckets of the latency histograms (seconds): from a fast LDAP search to
// an SMTP relay at its timeout.
var Buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// Registry is one process's metrics.
type Registry struct {
	*prometheus.Registry
	Namespace string

	ldapDuration *prometheus.HistogramVec
	ldapErrors   *prometheus.CounterVec
	redisErrors  *prometheus.CounterVec
}

// New makes the registry of namespace with the build info, the Go runtime
// and process collectors, and the LDAP and Redis metrics.
func New(namespace string) *Registry {
	r := &Registry{Registry: prometheus.NewRegistry(), Namespace: namespace}
	b := version.Info()
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info",
		Help:        "Always 1; its labels say which build runs.",
		ConstLabels: prometheus.Labels{"version": b.Version, "commit": b.Commit, "goversion": b.GoVersion},
	})
	info.Set(1)
	r.ldapDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "ldap_operation_duration_seconds", Buckets: Buckets,
		Help: "Time of each LDAP operation (bind, search, write), failed or not.",
	}, []string{"op"})
	r.ldapErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "ldap_errors_total",
		Help: "LDAP operations that failed for a reason other than the answer asked for (a wrong password is no error).",
	}, []string{"op"})
	r.redisErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "redis_errors_total",
		Help: "Redis commands that failed (a missing key is no error).",
	}, []string{"command"})
	r.MustRegister(info, r.ldapDuration, r.ldapErrors, r.redisErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// Handler serves the registry's metrics.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.Registry, promhttp.HandlerOpts{Registry: r.Registry})
}

// LDAP records one LDAP operation; err is nil when the directory answered.
func (r *Registry) LDAP(op string, d time.Duration, err error) {
	r.ldapDuration.WithLabelValues(op).Observe(d.Seconds())
	if err != nil {
		r.ldapErrors.WithLabelValues(op).Inc()
	}
}

// RedisHook is a go-redis hook that counts failed commands.
func (r *Registry) RedisHook() redis.Hook { return redisHook{r.redisErrors} }

type redisHook struct{ errors *prometheus.CounterVec }

func (h redisHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		h.count("dial", err)
		return c, err
	}
}

func (h redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.count(cmd.Name(), err)
		return err
	}
}

func (h redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.count("pipeline", err)
		return err
	}
}

// count ignores a missing key (an answer) and a caller that gave up
// (shutdown, a client gone): neither says Redis is unwell.
func (h redisHook) count(command string, err error) {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) {
		return
	}
	h.errors.WithLabelValues(command).Inc()
}

// Server is the metrics listener.
type Server struct {
	ln  net.Listener
	srv *http.Server
}

// Listen binds addr at once (a taken port fails the start, not a scrape
// later) and serves h there until Close.
func Listen(addr string, h http.Handler, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listen: %w", err)
	}
	s := &Server{ln: ln, srv: &http.Server{
		Handler: h, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}}
	log.Info("metrics listening", "addr", ln.Addr().String())
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "err", err)
		}
	}()
	return s, nil
}

// Addr is the bound address (useful with port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the listener, letting scrapes in progress end briefly.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}

// Mux is a ServeMux with /metrics of r; the caller may add routes
// (ldapsync's probes).
func (r *Registry) Mux() *http.ServeMux {
	m := http.NewServeMux()
	m.Handle("GET /metrics", r.Handler())
	return m
}

// GaugeSpec names one gauge of a Gauges collector.
type GaugeSpec struct{ Name, Help string }

// Gauges reads several gauges with one call of read at every scrape (the
// values in the order of specs). When read fails the gauges are left out
// of that scrape, which still succeeds: a backend down must not hide the
// other metrics (its errors are counted where they happen).
func Gauges(namespace string, specs []GaugeSpec, read func(context.Context) ([]float64, error)) prometheus.Collector {
	c := &gauges{read: read}
	for _, s := range specs {
		c.descs = append(c.descs, prometheus.NewDesc(prometheus.BuildFQName(namespace, "", s.Name), s.Help, nil, nil))
	}
	return c
}

type gauges struct {
	descs []*prometheus.Desc
	read  func(context.Context) ([]float64, error)
}

func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range g.descs {
		ch <- d
	}
}

func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	values, err := g.read(ctx)
	if err != nil || len(values) != len(g.descs) {
		return
	}
	for i, d := range g.descs {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, values[i])
	}
}

// Queue is the change queue's collector: jobs waiting, jobs held by a
// worker, and how long the job due first has been due.
func Queue(namespace string, q *job.Queue) prometheus.Collector {
	return Gauges(namespace, []GaugeSpec{
		{"change_queue_waiting", "Password changes waiting for a worker (retries included)."},
		{"change_queue_running", "Password changes held by a worker now."},
		{"change_queue_oldest_due_seconds", "How long the change due first has been waiting for a worker; 0 when none is due."},
	}, func(ctx context.Context) ([]float64, error) {
		b, err := q.Backlog(ctx)
		return []float64{float64(b.Waiting), float64(b.Running), b.OldestDue.Seconds()}, err
	})
}
