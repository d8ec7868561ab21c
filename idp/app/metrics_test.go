package app_test

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// scrape reads /metrics on the metrics listener: sample line (name and
// labels, as exposed) → value.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	samples := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	return samples
}

// A sign-in, a failed one, a reset the directory refuses then one it
// writes: each moves its counter, on the metrics listener and only there.
func TestMetricsJourney(t *testing.T) {
	s := startStackWith(t, stackOptions{
		Slapd:  testenv.SlapdOptions{InHistory: 3},
		Config: func(c *config.Config) { c.Metrics.Listen = "127.0.0.1:0" },
	})
	addr := s.app.MetricsAddr
	if addr == "" {
		t.Fatal("metrics configured but no listener")
	}
	u := testenv.Users()[1]
	if !binds(t, s, u.UID, u.Password) {
		t.Fatal("sign-in failed")
	}
	if binds(t, s, u.UID, "not the password") {
		t.Fatal("a wrong password signed in")
	}
	r := verifiedReset(t, s, u.Mail)
	// Only the directory knows its history: the current password is
	// queued, then refused there.
	if path, body := r.setPassword(u.Password, u.Password); !strings.HasPrefix(path, "/mot-de-passe-perdu/nouveau") || !strings.Contains(body, "déjà utilisé") {
		t.Fatalf("a password in the directory's history: at %s", path)
	}
	const fresh = "Une phrase de passe toute neuve"
	if path, _ := r.setPassword(fresh, fresh); path != "/mot-de-passe-perdu/termine" {
		t.Fatalf("good password: at %s", path)
	}

	var got map[string]float64
	testenv.Eventually(t, 10e9, func() (bool, string) {
		got = scrape(t, addr)
		return got[`idp_reset_total{step="written"}`] >= 1, "reset.written not counted yet"
	})
	for _, c := range []struct {
		sample string
		min    float64
	}{
		{`idp_signin_total{outcome="success",source="annuaire"}`, 1},
		{`idp_signin_total{outcome="failure",source="annuaire"}`, 1},
		{`idp_reset_total{step="requested"}`, 1},
		{`idp_reset_total{step="mailed"}`, 1},
		{`idp_reset_total{step="code_accepted"}`, 1},
		{`idp_reset_total{step="queued"}`, 2},
		{`idp_reset_total{step="refused"}`, 1},
		{`idp_reset_total{step="written"}`, 1},
		{`idp_http_request_duration_seconds_count{route="/login",status="3xx"}`, 1},
		{`idp_smtp_send_duration_seconds_count`, 1},
		{`idp_change_queue_waiting`, 0},
		{`idp_change_queue_oldest_due_seconds`, 0},
		{`idp_mail_outbox_waiting`, 0},
		{`idp_mail_dead_letters`, 0},
	} {
		if v, ok := got[c.sample]; !ok || v < c.min {
			t.Errorf("%s = %v (present %v), want at least %v", c.sample, v, ok, c.min)
		}
	}
	var build bool
	routes := map[string]bool{}
	for k := range got {
		build = build || strings.HasPrefix(k, "idp_build_info{")
		if _, rest, ok := strings.Cut(k, `route="`); ok {
			route, _, _ := strings.Cut(rest, `"`)
			routes[route] = true
		}
	}
	// Patterns, not paths: the pages with a query or an id (authorize,
	// callback, the waiting screen polled many times) add no label.
	if len(routes) > 20 {
		t.Errorf("%d route labels: %v", len(routes), routes)
	}
	for route := range routes {
		if strings.ContainsAny(route, "?=") || strings.Contains(route, "authRequestID") {
			t.Errorf("route label %q is not a pattern", route)
		}
	}
	if !build {
		t.Error("no idp_build_info")
	}
	// The public listener does not serve the metrics.
	resp, err := http.Get(s.Issuer + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Error("the public listener serves /metrics")
	}
}

// Without a metrics section there is no metrics listener.
func TestMetricsOffByDefault(t *testing.T) {
	s := startStack(t)
	if s.app.MetricsAddr != "" {
		t.Fatalf("metrics listener at %s without a metrics section", s.app.MetricsAddr)
	}
}
