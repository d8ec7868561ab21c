package provider

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/region-nouvelle-aquitaine/idp/idp/store"
)

// verifyCompact checks a compact JWS against the provider's published keys
// and returns its typ header and claims.
func verifyCompact(t *testing.T, f *fixture, tok string) (string, map[string]any) {
	t.Helper()
	jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	// The published keys: the current one and the next, not yet signing.
	keys, err := f.p.storage.KeySet(context.Background())
	if err != nil || len(keys) == 0 {
		t.Fatalf("key set: %v %v", keys, err)
	}
	current, err := f.p.storage.SigningKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	kid := jws.Signatures[0].Header.KeyID
	if kid != current.ID() {
		t.Errorf("kid = %q, want the current key %q", kid, current.ID())
	}
	i := slices.IndexFunc(keys, func(k op.Key) bool { return k.ID() == kid })
	if i < 0 {
		t.Fatalf("kid %q is not published", kid)
	}
	payload, err := jws.Verify(keys[i].Key())
	if err != nil {
		t.Fatalf("signature: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	typ, _ := jws.Signatures[0].Header.ExtraHeaders[jose.HeaderType].(string)
	return typ, claims
}

func TestLogoutTokenContents(t *testing.T) {
	f := newFixture(t)
	tok, err := f.p.LogoutToken(context.Background(), "conf", "jdupont", "session-ref", "delivery-1", 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	typ, c := verifyCompact(t, f, tok)
	if typ != LogoutTokenType {
		t.Errorf("typ = %q, want %q", typ, LogoutTokenType)
	}
	now := f.clock.Now().Unix()
	want := map[string]any{
		"iss": testIssuer, "aud": []any{"conf"}, "sub": "jdupont", "sid": "session-ref", "jti": "delivery-1",
		"iat": float64(now), "exp": float64(now + 120),
		"events": map[string]any{BackchannelLogoutEvent: map[string]any{}},
	}
	got, _ := json.Marshal(c)
	exp, _ := json.Marshal(want)
	if string(got) != string(exp) {
		t.Errorf("claims\n%s\nwant\n%s", got, exp)
	}
	if _, ok := c["nonce"]; ok {
		t.Error("a logout token carries a nonce")
	}
}

// The ID token names the session the sign-in went through, as the logout
// token will.
func TestIDTokenCarriesSID(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	sess := &store.Session{ID: store.NewID(), Subject: "jdupont", CreatedAt: f.clock.Now(), ExpiresAt: f.clock.Now().Add(time.Hour)}
	if err := f.st.SaveSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	g := confGrant(f, t)
	if err := f.st.UpdateAuthRequest(ctx, g.authRequestID, func(ar *store.AuthRequest) error { ar.SessionID = sess.Ref; return nil }); err != nil {
		t.Fatal(err)
	}
	a := f.exchange(t, "conf", g)
	if a.status != http.StatusOK {
		t.Fatalf("exchange: %d %v", a.status, a.body)
	}
	idt, _ := a.body["id_token"].(string)
	_, c := verifyCompact(t, f, idt)
	if c["sid"] != sess.Ref || sess.Ref == "" {
		t.Errorf("sid = %v, want %q", c["sid"], sess.Ref)
	}
}
