package oidc_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// The recorded ProConnect exchange in testdata: a discovery document
// shaped like ProConnect's (issuer …/api/v2), its key set, a token
// response and signed userinfo answers (application/jwt), good and bad.
// Tokens expire in 2100 so that the recording stays valid; regenerate
// with: go test ./idp/connector/oidc -run TestFixtures -update
const (
	fixtureIssuer   = "https://auth.proconnect.test/api/v2"
	fixtureClientID = "region-nouvelle-aquitaine-idp"
	fixtureSecret   = "fixture-secret"
	fixtureSubject  = "8b7e1a4c-5d2f-4a3e-9c61-0f2d3b4a5c6d"
	fixtureNonce    = "fixture-nonce-0123456789abcdef0123456789abcdef"
	fixtureState    = "fixture-state-0123456789abcdef0123456789abcdef"
	fixtureVerifier = "fixture-verifier-0123456789abcdef0123456789abcdef"
	fixtureCode     = "fixture-code"
	fixtureAccess   = "fixture-access-token"
	fixtureRedirect = "https://connexion.example/login/upstream/proconnect/callback"
)

var update = flag.Bool("update", false, "regenerate the recorded ProConnect exchange in testdata")

func TestFixtures(t *testing.T) {
	if !*update {
		t.Skip("run with -update to regenerate testdata")
	}
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join("testdata", name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeJSON := func(name string, v any) {
		data, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		write(name, append(data, '\n'))
	}
	newKey := func() jose.JSONWebKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return jose.JSONWebKey{Key: k, KeyID: "proconnect-sig-2026", Algorithm: string(jose.ES256), Use: "sig"}
	}
	key, impostor := newKey(), newKey() // the impostor reuses the key id
	sign := func(k jose.JSONWebKey, claims map[string]any) string {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k},
			(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), k.KeyID))
		if err != nil {
			t.Fatal(err)
		}
		payload, _ := json.Marshal(claims)
		jws, err := signer.Sign(payload)
		if err != nil {
			t.Fatal(err)
		}
		s, err := jws.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	now := time.Now().Unix()
	exp := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	atHash := sha256.Sum256([]byte(fixtureAccess))

	writeJSON("key.json", key)
	writeJSON("jwks.json", jose.JSONWebKeySet{Keys: []jose.JSONWebKey{key.Public()}})
	writeJSON("discovery.json", map[string]any{
		"issuer":                                fixtureIssuer,
		"authorization_endpoint":                fixtureIssuer + "/authorize",
		"token_endpoint":                        fixtureIssuer + "/token",
		"userinfo_endpoint":                     fixtureIssuer + "/userinfo",
		"end_session_endpoint":                  fixtureIssuer + "/session/end",
		"jwks_uri":                              fixtureIssuer + "/jwks",
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code"},
		"subject_types_supported":               []string{"public"},
		"scopes_supported":                      []string{"openid", "email", "given_name", "usual_name", "uid", "siret", "siren", "organizational_unit", "belonging_population", "phone", "idp_id", "idp_acr", "custom"},
		"claims_supported":                      []string{"sub", "given_name", "usual_name", "email", "uid", "siret", "siren", "organizational_unit", "belonging_population", "phone", "idp_id", "idp_acr", "amr"},
		"acr_values_supported":                  []string{"eidas1", "eidas2", "eidas3"},
		"id_token_signing_alg_values_supported": []string{"ES256", "RS256"},
		"userinfo_signing_alg_values_supported": []string{"ES256", "RS256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post"},
		"code_challenge_methods_supported":      []string{"S256"},
		"claims_parameter_supported":            true,
	})
	idToken := sign(key, map[string]any{
		"iss": fixtureIssuer, "sub": fixtureSubject, "aud": fixtureClientID, "exp": exp, "iat": now,
		"auth_time": now, "nonce": fixtureNonce, "acr": "eidas1", "amr": []string{"pwd"},
		"at_hash": base64.RawURLEncoding.EncodeToString(atHash[:16]),
	})
	writeJSON("token.json", map[string]any{
		"access_token": fixtureAccess, "token_type": "Bearer", "expires_in": 60, "id_token": idToken,
		"scope": "openid email given_name usual_name uid siret",
	})
	info := func(iss, aud string) map[string]any {
		return map[string]any{
			"iss": iss, "aud": aud, "iat": now, "sub": fixtureSubject,
			"email": "camille.martin@nouvelle-aquitaine.gouv.fr", "given_name": "Camille", "usual_name": "Martin",
			"uid": "cmartin", "siret": "20005375900011", "idp_id": "fia1v2",
		}
	}
	write("userinfo.jwt", []byte(sign(key, info(fixtureIssuer, fixtureClientID))+"\n"))
	write("userinfo-bad-signature.jwt", []byte(sign(impostor, info(fixtureIssuer, fixtureClientID))+"\n"))
	write("userinfo-wrong-iss.jwt", []byte(sign(key, info("https://auth.elsewhere.test/api/v2", fixtureClientID))+"\n"))
	write("userinfo-wrong-aud.jwt", []byte(sign(key, info(fixtureIssuer, "another-client"))+"\n"))
	other := info(fixtureIssuer, fixtureClientID)
	other["sub"] = "someone-else"
	write("userinfo-other-sub.jwt", []byte(sign(key, other)+"\n"))
	// Unsigned: alg none and an empty signature.
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	payload, _ := json.Marshal(info(fixtureIssuer, fixtureClientID))
	write("userinfo-none.jwt", []byte(header+"."+base64.RawURLEncoding.EncodeToString(payload)+".\n"))
}
