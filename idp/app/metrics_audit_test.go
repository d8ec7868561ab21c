package app

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/region-nouvelle-aquitaine/idp/idp/audit"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/metrics"
)

// Audit records are counted by their name, reason and source, even when
// the log level hides them; the records still reach the log as before.
func TestAuditCounted(t *testing.T) {
	m := newWebMetrics(metrics.New("idp"))
	var out bytes.Buffer
	log := slog.New(auditCounter{next: slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn}), m: m}).With("component", "test")
	ctx := context.Background()
	for _, e := range []audit.Event{
		{Name: audit.SignInSuccess},
		{Name: audit.SignInSuccess, Source: "proconnect"},
		{Name: audit.SignInFailure, Reason: "invalid_credentials"},
		{Name: audit.SignInFailure, Reason: "password_expired"},
		{Name: audit.SignInFailure, Reason: "password_must_change"},
		{Name: audit.SignInFailure, Reason: "upstream_refused", Source: "proconnect"},
		{Name: audit.SignInFailure, Reason: "upstream_unavailable", Source: "proconnect"},
		{Name: audit.SignInDelayed, Reason: "network_limit"},
		{Name: audit.SignInLockout, Reason: "attempt_while_locked"},
		{Name: audit.SignInUnavailable},
		{Name: audit.ResetRequested},
		{Name: audit.ResetRefused, Reason: "too_short"},
		{Name: audit.PasswordChangeRefused, Reason: "wrong_current_password"},
		{Name: audit.Logout},
	} {
		audit.Log(ctx, log, e)
	}
	for _, c := range []struct {
		got  float64
		name string
	}{
		{testutil.ToFloat64(m.signIn.WithLabelValues("success", "annuaire")), "success annuaire"},
		{testutil.ToFloat64(m.signIn.WithLabelValues("success", "proconnect")), "success proconnect"},
		{testutil.ToFloat64(m.signIn.WithLabelValues("failure", "annuaire")), "failure annuaire"},
		{testutil.ToFloat64(m.signIn.WithLabelValues("expired", "annuaire")), "expired"},
		{testutil.ToFloat64(m.signIn.WithLabelValues("must_change", "annuaire")), "must_change"},
		{testutil.ToFloat64(m.signIn.WithLabelValues("failure", "proconnect")), "failure proconnect"},
		{testutil.ToFloat64(m.signIn.WithLabelValues("unavailable", "proconnect")), "unavailable proconnect"},
		{testutil.ToFloat64(m.signIn.WithLabelValues("held", "annuaire")), "held"},
		{testutil.ToFloat64(m.signIn.WithLabelValues("locked", "annuaire")), "locked"},
		{testutil.ToFloat64(m.signIn.WithLabelValues("unavailable", "annuaire")), "unavailable annuaire"},
		{testutil.ToFloat64(m.upstreamErrs.WithLabelValues("proconnect", "refused")), "upstream refused"},
		{testutil.ToFloat64(m.upstreamErrs.WithLabelValues("proconnect", "unavailable")), "upstream unavailable"},
		{testutil.ToFloat64(m.reset.WithLabelValues("requested")), "reset requested"},
		{testutil.ToFloat64(m.reset.WithLabelValues("refused")), "reset refused"},
		{testutil.ToFloat64(m.change.WithLabelValues("refused")), "change refused"},
	} {
		if c.got != 1 {
			t.Errorf("%s counted %v times, want 1", c.name, c.got)
		}
	}
	if n := testutil.CollectAndCount(m.signIn); n != 10 {
		t.Errorf("%d sign-in series, want 10", n)
	}
	// Only the Warn records (lockout, unavailable) reach this log.
	if got := strings.Count(out.String(), `"msg":"audit"`); got != 2 {
		t.Errorf("%d audit records logged at warn, want 2:\n%s", got, out.String())
	}
}
