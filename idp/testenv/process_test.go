package testenv

import (
	"fmt"
	"strings"
	"testing"
)

// recordTB records Skip and Fatal instead of stopping the test.
type recordTB struct {
	testing.TB
	skipped, failed string
}

func (r *recordTB) Helper()           {}
func (r *recordTB) Skip(args ...any)  { r.skipped = fmt.Sprint(args...) }
func (r *recordTB) Fatal(args ...any) { r.failed = fmt.Sprint(args...) }

func TestRequire(t *testing.T) {
	tests := []struct {
		name, ci, binary   string
		wantSkip, wantFail bool
	}{
		{"present", "", "sh", false, false},
		{"missing outside CI", "", "no-such-binary-xyz", true, false},
		{"missing in CI", "true", "no-such-binary-xyz", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			r := &recordTB{TB: t}
			path := Require(r, tc.binary, "some-package")
			if (r.skipped != "") != tc.wantSkip || (r.failed != "") != tc.wantFail {
				t.Fatalf("skipped=%q failed=%q", r.skipped, r.failed)
			}
			if msg := r.skipped + r.failed; msg != "" && !strings.Contains(msg, "apt-get install some-package") {
				t.Errorf("message %q does not name the package", msg)
			}
			if !tc.wantSkip && !tc.wantFail && path == "" {
				t.Error("no path for a present binary")
			}
		})
	}
}
