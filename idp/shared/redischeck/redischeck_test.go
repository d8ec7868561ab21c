package redischeck_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/logging"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/redischeck"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestWarn runs real redis-servers: one that loses everything on restart,
// one that evicts, one safe, one that refuses CONFIG (managed Redis).
func TestWarn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		args  []string
		warns []string // substrings of the WARN lines, in order
		debug bool     // "could not check" at debug
	}{
		{"no persistence", []string{"--appendonly", "no", "--save", ""}, []string{"without persistence"}, false},
		{"evicting", []string{"--appendonly", "yes", "--maxmemory-policy", "allkeys-lru", "--maxmemory", "100mb"},
			[]string{"may evict keys"}, false},
		{"both", []string{"--maxmemory-policy", "volatile-lru", "--maxmemory", "100mb"},
			[]string{"without persistence", "may evict keys"}, false},
		{"aof, noeviction", []string{"--appendonly", "yes", "--maxmemory-policy", "noeviction", "--maxmemory", "100mb"}, nil, false},
		{"rdb save points, eviction policy without maxmemory", []string{"--save", "3600 1", "--maxmemory-policy", "allkeys-lru"}, nil, false},
		{"CONFIG disabled", []string{"--rename-command", "CONFIG", ""}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := testenv.StartRedisWith(t, tc.args...)
			var buf bytes.Buffer
			redischeck.Warn(context.Background(), r.Client(t), logging.New(&buf, logging.Text, slog.LevelDebug), "idp")
			var warns, debugs []string
			for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
				switch {
				case strings.Contains(l, "level=WARN"):
					warns = append(warns, l)
				case strings.Contains(l, "level=DEBUG"):
					debugs = append(debugs, l)
				}
			}
			if len(warns) != len(tc.warns) {
				t.Fatalf("%d WARN lines, want %d:\n%s", len(warns), len(tc.warns), buf.String())
			}
			for i, w := range tc.warns {
				if !strings.Contains(warns[i], w) || !strings.Contains(warns[i], "signing keys") {
					t.Errorf("WARN line %q lacks %q or what is at stake", warns[i], w)
				}
			}
			if got := len(debugs) == 1 && strings.Contains(debugs[0], "could not check"); got != tc.debug {
				t.Errorf("debug 'could not check' = %v, want %v:\n%s", got, tc.debug, buf.String())
			}
		})
	}
}
