package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/ldapconn"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/metrics"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
	"github.com/region-nouvelle-aquitaine/idp/ldapsync/app"
	"github.com/region-nouvelle-aquitaine/idp/ldapsync/directory"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The probes and /metrics on the metrics listener, against redis-server
// and slapd; then Redis stops: not ready, still alive, still scraped.
func TestObserve(t *testing.T) {
	r := testenv.StartRedis(t)
	sl := testenv.StartSlapd(t, testenv.SlapdOptions{})
	log := slog.New(slog.DiscardHandler)
	cfg := &config.Ldapsync{Queue: config.Queue{KeyPrefix: "idp:"}, Metrics: config.Metrics{Listen: "127.0.0.1:0"}}
	reg := metrics.New("ldapsync")
	srv, err := app.Observe(cfg, r.Client(t), reg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	base := "http://" + srv.Addr()

	w, err := directory.New(directory.Config{
		Config: ldapconn.Config{URLs: []string{sl.URL}, BindDN: sl.WriterDN, BindPassword: sl.WriterPassword, Timeout: 2 * time.Second, Metrics: reg},
		BaseDN: sl.PeopleDN,
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Lookup(context.Background(), testenv.Users()[0].UID); err != nil {
		t.Fatal(err)
	}

	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}
	if code, body := get(t, base+"/ready"); code != http.StatusOK {
		t.Errorf("/ready with Redis up: %d %s", code, body)
	}
	code, body := get(t, base+"/metrics")
	for _, want := range []string{
		"ldapsync_build_info{", "ldapsync_change_queue_waiting 0", "ldapsync_change_queue_oldest_due_seconds 0",
		`ldapsync_ldap_operation_duration_seconds_count{op="bind"} 1`,
		`ldapsync_ldap_operation_duration_seconds_count{op="search"} 1`,
	} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("/metrics (%d) has no %q", code, want)
		}
	}
	if strings.Contains(body, "ldapsync_ldap_errors_total") {
		t.Error("an LDAP error counted for answers")
	}

	r.Stop(t)
	if code, _ := get(t, base+"/ready"); code != http.StatusServiceUnavailable {
		t.Errorf("/ready with Redis down: %d", code)
	}
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz with Redis down: %d", code)
	}
	code, body = get(t, base+"/metrics")
	if code != http.StatusOK || !strings.Contains(body, "ldapsync_redis_errors_total{") || strings.Contains(body, "ldapsync_change_queue_waiting") {
		t.Errorf("/metrics with Redis down (%d): want Redis errors counted and no queue depth:\n%s", code, body)
	}
}
