package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestThrottleDefaults(t *testing.T) {
	t.Parallel()
	if c := mustParse(t, minimalWith(t), nil); c.Throttle != DefaultThrottle() {
		t.Errorf("throttle = %+v, want %+v", c.Throttle, DefaultThrottle())
	}
	d := DefaultThrottle()
	if !d.Enabled || d.Account.DelayAfter != 5 || d.Account.Delay != time.Second || d.Account.LockAfter != 10 ||
		d.Account.LockDuration != 15*time.Minute || d.IP.MaxFailures != 100 || d.IP.Window != 15*time.Minute {
		t.Errorf("DefaultThrottle = %+v, not the documented defaults", d)
	}
}

// The example file documents the defaults: it must say what the code does.
func TestThrottleExampleIsDefault(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "config", "idp.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(data), "\nthrottle:\n")
	if i < 0 {
		t.Fatal("deploy/config/idp.yaml has no throttle section")
	}
	c := mustParse(t, minimalExcept(t, "mail", "ldapsync")+string(data[i:]), map[string]string{"/run/secrets/ldapsync-signing-key": cryptoKeyHex})
	if c.Throttle != DefaultThrottle() {
		t.Errorf("example throttle = %+v, want the defaults %+v", c.Throttle, DefaultThrottle())
	}
}

func TestThrottleFull(t *testing.T) {
	t.Parallel()
	c := mustParse(t, minimalWith(t)+`throttle:
  enabled: false
  account: {delay_after: 3, delay: 500ms, max_delay: 30s, lock_after: 5, lock_duration: 1h}
  ip: {max_failures: 1_000, window: 1h}
`, nil)
	want := Throttle{
		Account: AccountThrottle{DelayAfter: 3, Delay: 500 * time.Millisecond, MaxDelay: 30 * time.Second,
			LockAfter: 5, LockDuration: time.Hour},
		IP: IPThrottle{MaxFailures: 1000, Window: time.Hour},
	}
	if c.Throttle != want {
		t.Errorf("throttle = %+v, want %+v", c.Throttle, want)
	}
}

// TestThrottleRules: one mistake at a time, reported alone at its line.
func TestThrottleRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, section, path, inMsg string
	}{
		{"lock above NIST's 100", "account: {lock_after: 101}", "throttle.account.lock_after", "must be between 1 and 100, not 101"},
		{"lock zero", "account: {lock_after: 0}", "throttle.account.lock_after", "must be between 1 and 100, not 0"},
		{"delay after zero", "account: {delay_after: 0}", "throttle.account.delay_after", "must be between 1 and 100, not 0"},
		{"delay after the lock", "account: {delay_after: 11}", "throttle.account.delay_after", "(11) must not be more than lock_after (10)"},
		{"zero delay", "account: {delay: 0s}", "throttle.account.delay", "must be longer than zero"},
		{"max below first", "account: {delay: 2m}", "throttle.account.max_delay", "(1m0s) must not be shorter than delay (2m0s)"},
		{"forget_after is gone", "account: {forget_after: 10m}", "throttle.account", `unknown key "forget_after"`},
		{"no lock duration", "account: {lock_duration: 0s}", "throttle.account.lock_duration", "must be longer than zero"},
		{"ip threshold", "ip: {max_failures: 0}", "throttle.ip.max_failures", "must be between 1 and 1000000, not 0"},
		{"ip window", "ip: {window: -1m}", "throttle.ip.window", "must be longer than zero"},
		{"duration without unit", "ip: {window: 15}", "throttle.ip.window", "a bare number has no unit"},
		{"enabled as text", "enabled: \"yes\"", "throttle.enabled", "must be true or false"},
		{"unknown key", "account: {lock_afer: 3}", "throttle.account", `unknown key "lock_afer" (did you mean "lock_after"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			yaml := minimalWith(t) + "throttle:\n  " + tt.section + "\n"
			_, errs := parse(t, yaml, nil)
			if len(errs) != 1 {
				t.Fatalf("want 1 problem, got %d:\n%v", len(errs), errs)
			}
			lines := strings.Count(minimalWith(t), "\n") + 2
			if p := errs[0]; p.Path != tt.path || p.Line != lines || !strings.Contains(p.Message, tt.inMsg) {
				t.Errorf("got %s\nwant line %d, path %q, message containing %q", p, lines, tt.path, tt.inMsg)
			}
		})
	}
}
