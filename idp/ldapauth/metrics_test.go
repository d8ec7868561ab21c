package ldapauth

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

type opsRecorder struct {
	mu  sync.Mutex
	ops []string // "op" or "op!" for an error
}

func (r *opsRecorder) LDAP(op string, _ time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		op += "!"
	}
	r.ops = append(r.ops, op)
}

func (r *opsRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ops := r.ops
	r.ops = nil
	return ops
}

// A wrong password is an answer, not an error; a directory down is.
func TestMetricsRecorded(t *testing.T) {
	t.Parallel()
	s := testenv.StartSlapd(t, testenv.SlapdOptions{})
	rec := &opsRecorder{}
	d, _ := newDirectory(t, s, func(c *Config) { c.Metrics = rec })
	ctx := context.Background()
	jd := user("jdupont")
	if res, err := d.Authenticate(ctx, "jdupont", jd.Password); err != nil || !res.OK {
		t.Fatalf("right password: %+v %v", res, err)
	}
	for _, op := range []string{"dial", "service_bind", "search", "bind"} {
		if !slices.Contains(rec.ops, op) {
			t.Errorf("no %q among %v", op, rec.ops)
		}
	}
	rec.take()
	if res, err := d.Authenticate(ctx, "jdupont", "Correct-Horse-43"); err != nil || res.OK {
		t.Fatalf("wrong password: %+v %v", res, err)
	}
	if ops := rec.take(); !slices.Contains(ops, "bind") || slices.ContainsFunc(ops, func(o string) bool { return o[len(o)-1] == '!' }) {
		t.Errorf("wrong password recorded as %v, want a bind and no error", ops)
	}

	down, _ := newDirectory(t, s, func(c *Config) { c.URLs = []string{"ldap://127.0.0.1:1"}; c.Metrics = rec })
	if _, err := down.Authenticate(ctx, "jdupont", jd.Password); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("directory down: %v", err)
	}
	if ops := rec.take(); !slices.Contains(ops, "dial!") {
		t.Errorf("directory down recorded as %v, want a failed dial", ops)
	}
}
