package app

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/metrics"
)

// registered lists the names of every metric the collectors describe,
// without the Go runtime's and the process's.
func registered(t *testing.T, cs ...prometheus.Collector) []string {
	t.Helper()
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	var names []string
	for _, c := range cs {
		ch := make(chan *prometheus.Desc, 64)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			m := fq.FindStringSubmatch(d.String())
			if m == nil {
				t.Fatalf("no name in %s", d)
			}
			if !strings.HasPrefix(m[1], "go_") && !strings.HasPrefix(m[1], "process_") {
				names = append(names, m[1])
			}
		}
	}
	slices.Sort(names)
	return names
}

// documented lists the names in README's metrics table.
func documented(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Metrics\n")
	if !ok {
		t.Fatal("README has no « Metrics » section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var names []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|").FindAllStringSubmatch(section, -1) {
		names = append(names, m[1])
	}
	slices.Sort(names)
	return names
}

// README's table is exactly what both binaries register.
func TestMetricNamesDocumented(t *testing.T) {
	web := newWebMetrics(metrics.New("idp"))
	q := job.NewQueue(job.Options{})
	sync := metrics.New("ldapsync")
	got := registered(t, web.Registry, metrics.Queue("idp", q),
		outboxGauges("idp", func(context.Context) (int64, int64, error) { return 0, 0, nil }),
		sync.Registry, metrics.Queue("ldapsync", q))
	slices.Sort(got)
	if want := documented(t); !slices.Equal(got, want) {
		t.Errorf("registered metrics:\n%v\nREADME's table:\n%v", got, want)
	}
}

// Every metric the Grafana dashboard queries is one of README's table.
func TestDashboardQueriesDocumentedMetrics(t *testing.T) {
	b, err := os.ReadFile("../../deploy/grafana/idp.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	known := documented(t)
	name := regexp.MustCompile(`\b(?:idp|ldapsync)_[a-z_]+`)
	queried := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, n := range name.FindAllString(tg.Expr, -1) {
				queried++
				base := n
				for _, suffix := range []string{"_bucket", "_count", "_sum"} {
					if trimmed, ok := strings.CutSuffix(n, suffix); ok && slices.Contains(known, trimmed) {
						base = trimmed
					}
				}
				if !slices.Contains(known, base) {
					t.Errorf("panel %q queries %s, which README does not list", p.Title, n)
				}
			}
		}
	}
	if queried == 0 {
		t.Fatal("the dashboard queries no metric")
	}
}
