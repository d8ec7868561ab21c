package store_test

import (
	"encoding/base64"
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
	m, st, now := miniStore(t)
	ctx := t.Context()
	f := &store.UpstreamFlow{
		State: "state-" + strings.Repeat("s", 40), Upstream: "siege", AuthRequestID: "ar-" + strings.Repeat("a", 20),
		Nonce: "nonce-" + strings.Repeat("n", 40), CodeVerifier: "verifier-" + strings.Repeat("v", 40),
		BindingHash: "hash", CreatedAt: *now, ExpiresAt: now.Add(10 * time.Minute),
		Logout: true, AfterLogout: "https://site.example/?state=" + strings.Repeat("z", 20),
	}
	if err := st.SaveUpstreamFlow(ctx, f); err != nil {
		t.Fatal(err)
	}
	for _, k := range m.Keys() {
		v, _ := m.Get(k)
		for _, secret := range []string{f.State, f.AuthRequestID, f.Nonce, f.CodeVerifier, f.AfterLogout} {
			if strings.Contains(k, secret) || strings.Contains(v, secret) {
				t.Errorf("key %s holds a secret in clear", k)
			}
		}
	}
	refused := errors.New("not this browser")
	if _, err := st.TakeUpstreamFlow(ctx, f.State, func(seen *store.UpstreamFlow) error {
		if seen.Upstream != f.Upstream || seen.BindingHash != f.BindingHash || seen.Nonce != "" {
			t.Errorf("check saw %+v: want the flow without its secrets", seen)
		}
		return refused
	}); !errors.Is(err, refused) {
		t.Errorf("take refused by its check: %v", err)
	}
	got, err := st.TakeUpstreamFlow(ctx, f.State, func(*store.UpstreamFlow) error { return nil })
	if err != nil {
		t.Fatalf("take after a refusal (the flow must be left in place): %v", err)
	}
	if *got != *f {
		t.Errorf("took %+v, want %+v", got, f)
	}
	if _, err := st.TakeUpstreamFlow(ctx, f.State, nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second take: %v, want ErrNotFound", err)
	}
	f.State = "other-" + f.State
	if err := st.SaveUpstreamFlow(ctx, f); err != nil {
		t.Fatal(err)
	}
	*now = now.Add(11 * time.Minute)
	if _, err := st.TakeUpstreamFlow(ctx, f.State, nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired: %v, want ErrNotFound", err)
	}
}

// TestSessionUpstreamIDToken: the upstream's ID token kept for the
// logout there is sealed under the session's cookie value: Redis holds
// it only sealed, the cookie opens it, a load by Ref does not.
func TestSessionUpstreamIDToken(t *testing.T) {
	t.Parallel()
	m, st, now := miniStore(t)
	ctx := t.Context()
	const tok = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZ2VudCJ9.c2lnbmF0dXJl"
	sess := &store.Session{ID: store.NewID(), Subject: "siege.agent", ExpiresAt: now.Add(time.Hour)}
	if err := sess.SetUpstreamIDToken(tok); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	for _, k := range m.Keys() {
		// In clear, as a string or as bytes (base64 in JSON).
		if v, _ := m.Get(k); strings.Contains(v, tok) || strings.Contains(v, base64.StdEncoding.EncodeToString([]byte(tok))[:40]) {
			t.Errorf("key %s holds the ID token in clear", k)
		}
	}
	got, err := st.Session(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if hint, err := got.UpstreamIDToken(); err != nil || hint != tok {
		t.Errorf("by the cookie: %q, %v; want the token", hint, err)
	}
	byRef, err := st.SessionByRef(ctx, sess.Ref)
	if err != nil {
		t.Fatal(err)
	}
	if hint, err := byRef.UpstreamIDToken(); err != nil || hint != "" {
		t.Errorf("by Ref: %q, %v; want nothing", hint, err)
	}
	forged := *got
	forged.ID = store.NewID()
	if _, err := forged.UpstreamIDToken(); err == nil {
		t.Error("another cookie value opened the token")
	}
}

// miniStore is a store on miniredis whose clock is *now.
func miniStore(t *testing.T) (*miniredis.Miniredis, *store.Store, *time.Time) {
	t.Helper()
	m := miniredis.RunT(t)
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	st := store.New(store.Options{Client: redis.NewClient(&redis.Options{Addr: m.Addr()}), Now: func() time.Time { return now }})
	return m, st, &now
}
