package app

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/region-nouvelle-aquitaine/idp/idp/audit"
	"github.com/region-nouvelle-aquitaine/idp/idp/server"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/httpstatus"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/metrics"
)

// webMetrics are the web tier's metrics beside the shared ones. Sign-in,
// reset and change outcomes are counted from the audit records as they
// are logged, so the packages that decide them need no second hook.
type webMetrics struct {
	*metrics.Registry
	http         *prometheus.HistogramVec
	signIn       *prometheus.CounterVec
	reset        *prometheus.CounterVec
	change       *prometheus.CounterVec
	upstreamErrs *prometheus.CounterVec
	smtpDuration prometheus.Histogram
	smtpErrors   prometheus.Counter
	mailGivenUp  prometheus.Counter
	backchannel  *prometheus.CounterVec
}

// directorySource is the source label of a sign-in with the form.
const directorySource = "annuaire"

func newWebMetrics(reg *metrics.Registry) *webMetrics {
	ns := reg.Namespace
	m := &webMetrics{
		Registry: reg,
		http: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "http_request_duration_seconds", Buckets: metrics.Buckets,
			Help: "Time to answer a request, by route pattern (\"\" for none) and status class (2xx…5xx).",
		}, []string{"route", "status"}),
		signIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "signin_total",
			Help: "Sign-in attempts by outcome and by who vouched for the person (annuaire or an upstream's id).",
		}, []string{"outcome", "source"}),
		reset: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "reset_total",
			Help: "Steps of « Mot de passe perdu » and of the password changes that follow (queued, written…).",
		}, []string{"step"}),
		change: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "password_change_total",
			Help: "Password changes asked while signed in or at sign-in: started, or refused (wrong current password, held back).",
		}, []string{"outcome"}),
		upstreamErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "upstream_errors_total",
			Help: "Sign-ins an upstream provider did not complete, by upstream id and kind (refused, invalid, stale, unavailable).",
		}, []string{"upstream", "kind"}),
		smtpDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Name: "smtp_send_duration_seconds", Buckets: metrics.Buckets,
			Help: "Time of each attempt to hand a mail to the relay, failed or not.",
		}),
		smtpErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "smtp_errors_total", Help: "Attempts to hand a mail to the relay that failed.",
		}),
		mailGivenUp: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "mail_given_up_total", Help: "Mails moved to the dead letters (never sent).",
		}),
		backchannel: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "backchannel_logout_attempts_total",
			Help: "Attempts to deliver a logout token, by outcome (delivered, refused, retried, given_up, dropped).",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.http, m.signIn, m.reset, m.change, m.upstreamErrs, m.smtpDuration, m.smtpErrors, m.mailGivenUp, m.backchannel)
	return m
}

// outboxGauges reads the outbox's depth at every scrape.
func outboxGauges(ns string, depth func(context.Context) (int64, int64, error)) prometheus.Collector {
	return metrics.Gauges(ns, []metrics.GaugeSpec{
		{Name: "mail_outbox_waiting", Help: "Mails in the outbox not sent yet (retries included)."},
		{Name: "mail_dead_letters", Help: "Mails in the dead letters (given up, kept for IT)."},
	}, func(ctx context.Context) ([]float64, error) {
		w, dead, err := depth(ctx)
		return []float64{float64(w), float64(dead)}, err
	})
}

// SMTPSend implements mail.Metrics.
func (m *webMetrics) SMTPSend(took time.Duration, err error) {
	m.smtpDuration.Observe(took.Seconds())
	if err != nil {
		m.smtpErrors.Inc()
	}
}

// MailGivenUp implements mail.Metrics.
func (m *webMetrics) MailGivenUp() { m.mailGivenUp.Inc() }

// BackchannelAttempt implements backchannel.Metrics.
func (m *webMetrics) BackchannelAttempt(outcome string) { m.backchannel.WithLabelValues(outcome).Inc() }

// observeHTTP times every request by the route the mux matched.
func (m *webMetrics) observeHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx, route := server.TrackRoute(r.Context())
		rec := httpstatus.New(w)
		next.ServeHTTP(rec, r.WithContext(ctx))
		status := rec.Status()
		m.http.WithLabelValues(route(), strconv.Itoa(status/100)+"xx").Observe(time.Since(start).Seconds())
	})
}

// countAudit counts one audit record by its event name, reason and source.
func (m *webMetrics) countAudit(r slog.Record) {
	var name, reason, source string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "audit":
			name = a.Value.String()
		case "reason":
			reason = a.Value.String()
		case "idp":
			source = a.Value.String()
		}
		return true
	})
	if source == "" {
		source = directorySource
	}
	switch event, step, _ := strings.Cut(name, "."); event {
	case "signin":
		m.signIn.WithLabelValues(signInOutcome(audit.Name(name), reason), source).Inc()
		if kind, ok := strings.CutPrefix(reason, "upstream_"); ok && source != directorySource {
			m.upstreamErrs.WithLabelValues(source, kind).Inc()
		}
	case "reset":
		m.reset.WithLabelValues(step).Inc()
	case "password":
		m.change.WithLabelValues(strings.TrimPrefix(step, "change_")).Inc()
	}
}

// signInOutcome is the outcome label of a sign-in audit record: what IT
// watches (success, failure, held, locked, expired, must_change,
// unavailable).
func signInOutcome(name audit.Name, reason string) string {
	switch name {
	case audit.SignInSuccess:
		return "success"
	case audit.SignInDelayed:
		return "held"
	case audit.SignInLockout:
		return "locked"
	case audit.SignInUnavailable:
		return "unavailable"
	}
	switch reason {
	case "password_expired":
		return "expired"
	case "password_must_change":
		return "must_change"
	case "upstream_unavailable":
		return "unavailable"
	}
	return "failure"
}

// auditCounter is a slog handler that counts the audit records passing
// through, then hands every record the next handler wants to it: the
// counts do not depend on the log level.
type auditCounter struct {
	next slog.Handler
	m    *webMetrics
}

func (h auditCounter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.next.Enabled(ctx, l)
}

func (h auditCounter) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "audit" {
		h.m.countAudit(r)
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h auditCounter) WithAttrs(as []slog.Attr) slog.Handler {
	return auditCounter{next: h.next.WithAttrs(as), m: h.m}
}

func (h auditCounter) WithGroup(name string) slog.Handler {
	return auditCounter{next: h.next.WithGroup(name), m: h.m}
}
