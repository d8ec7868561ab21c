package demorp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// fakeIssuer publishes discovery and one key, like the provider.
func fakeIssuer(t *testing.T, key *ecdsa.PrivateKey) string {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": srv.URL, "jwks_uri": srv.URL + "/keys", "authorization_endpoint": srv.URL + "/authorize",
			"token_endpoint": srv.URL + "/token", "id_token_signing_alg_values_supported": []string{"ES256"},
		})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	})
	return srv.URL
}

func sign(t *testing.T, key *ecdsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("logout+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBackchannelVerifier(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	issuer := fakeIssuer(t, key)
	valid := func() map[string]any {
		now := time.Now().Unix()
		return map[string]any{
			"iss": issuer, "aud": "demo", "sub": "jdupont", "sid": "s1", "jti": "j1", "iat": now, "exp": now + 120,
			"events": map[string]any{backchannelEvent: map[string]any{}},
		}
	}
	tests := []struct {
		name   string
		key    *ecdsa.PrivateKey
		change func(map[string]any)
		status int
	}{
		{"valid", key, func(map[string]any) {}, http.StatusOK},
		{"bad signature", other, func(map[string]any) {}, http.StatusBadRequest},
		{"wrong aud", key, func(c map[string]any) { c["aud"] = "someone-else" }, http.StatusBadRequest},
		{"wrong iss", key, func(c map[string]any) { c["iss"] = "https://evil.example" }, http.StatusBadRequest},
		{"nonce present", key, func(c map[string]any) { c["nonce"] = "n" }, http.StatusBadRequest},
		{"missing events", key, func(c map[string]any) { delete(c, "events") }, http.StatusBadRequest},
		{"other event", key, func(c map[string]any) { c["events"] = map[string]any{"urn:other": map[string]any{}} }, http.StatusBadRequest},
		{"neither sid nor sub", key, func(c map[string]any) { delete(c, "sid"); delete(c, "sub") }, http.StatusBadRequest},
		{"old iat", key, func(c map[string]any) { c["iat"] = time.Now().Add(-time.Hour).Unix() }, http.StatusBadRequest},
		{"expired", key, func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp := New(Config{Issuer: issuer, ClientID: "demo", BaseURL: "http://rp.test/demo"})
			rp.results["browser"] = &Result{Claims: map[string]any{"sub": "jdupont", "sid": "s1"}}
			rp.results["another"] = &Result{Claims: map[string]any{"sub": "jdupont", "sid": "s2"}}
			c := valid()
			tt.change(c)
			form := url.Values{"logout_token": {sign(t, tt.key, c)}}
			req := httptest.NewRequest(http.MethodPost, "/demo/backchannel", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			_, ended := rp.results["browser"]
			ended = !ended
			if ended != (tt.status == http.StatusOK) {
				t.Errorf("session s1 ended: %v", ended)
			}
			if _, ok := rp.results["another"]; !ok {
				t.Error("session s2 ended too")
			}
		})
	}
}
