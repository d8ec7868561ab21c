package config

import (
	"strings"
	"testing"
	"time"
)

func TestKeyRotationPeriod(t *testing.T) {
	if c := mustParse(t, minimalWith(t), nil); c.OIDC.KeyRotationPeriod != 30*24*time.Hour {
		t.Fatalf("default key_rotation_period = %s", c.OIDC.KeyRotationPeriod)
	}
	for _, tc := range []struct {
		value   string
		want    time.Duration
		problem string
	}{
		{"2160h", 2160 * time.Hour, ""},
		{"1h", time.Hour, ""},
		{"59m", 0, "must be at least 1h0m0s"},
		{"0s", 0, "must be at least"},
		{"30", 0, "bare number"},
	} {
		yaml := minimalWith(t) + "oidc:\n  key_rotation_period: " + tc.value + "\n"
		c, errs := parse(t, yaml, nil)
		if tc.problem == "" {
			if errs != nil || c.OIDC.KeyRotationPeriod != tc.want {
				t.Errorf("%s: %v %v", tc.value, c, errs)
			}
			continue
		}
		if errs == nil || !strings.Contains(errs.Error(), "oidc.key_rotation_period") || !strings.Contains(errs.Error(), tc.problem) {
			t.Errorf("%s: problems = %v, want %q", tc.value, errs, tc.problem)
		}
	}
}
