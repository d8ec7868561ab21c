package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/store"
)

// TestUpstreamFlow: a flow is taken once, never after its expiry, and
// Redis holds none of its secrets in clear.
func TestUpstreamFlow(t *testing.T) {
	t.Parallel()
	m := miniredis.RunT(t)
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	st := store.New(store.Options{Client: redis.NewClient(&redis.Options{Addr: m.Addr()}), Now: func() time.Time { return now }})
	ctx := t.Context()
	f := &store.UpstreamFlow{
		State: "state-" + strings.Repeat("s", 40), Upstream: "siege", AuthRequestID: "ar-" + strings.Repeat("a", 20),
		Nonce: "nonce-" + strings.Repeat("n", 40), CodeVerifier: "verifier-" + strings.Repeat("v", 40),
		BindingHash: "hash", CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute),
	}
	if err := st.SaveUpstreamFlow(ctx, f); err != nil {
		t.Fatal(err)
	}
	for _, k := range m.Keys() {
		v, _ := m.Get(k)
		for _, secret := range []string{f.State, f.AuthRequestID, f.Nonce, f.CodeVerifier} {
			if strings.Contains(k, secret) || strings.Contains(v, secret) {
				t.Errorf("key %s holds a secret in clear", k)
			}
		}
	}
	got, err := st.TakeUpstreamFlow(ctx, f.State)
	if err != nil {
		t.Fatal(err)
	}
	if *got != *f {
		t.Errorf("took %+v, want %+v", got, f)
	}
	if _, err := st.TakeUpstreamFlow(ctx, f.State); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second take: %v, want ErrNotFound", err)
	}
	f.State = "other-" + f.State
	if err := st.SaveUpstreamFlow(ctx, f); err != nil {
		t.Fatal(err)
	}
	now = now.Add(11 * time.Minute)
	if _, err := st.TakeUpstreamFlow(ctx, f.State); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired: %v, want ErrNotFound", err)
	}
}
