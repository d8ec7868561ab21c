package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/region-nouvelle-aquitaine/idp/idp/provider"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// A running provider picks up a rotation made by `idp admin keys rotate`
// within seconds, without restart; the ID token signed before still
// verifies with a relying party's library.
func TestSigningKeyRotationWhileServing(t *testing.T) {
	s := startStack(t)
	st := s.Sites[0]
	idToken := func() string {
		t.Helper()
		code, verifier := newBrowserless(t, s).code(st, nil)
		a := s.token(t, st, codeForm(code, verifier, st.URL+"/callback"), true)
		raw, _ := a.body["id_token"].(string)
		return raw
	}
	kid := func(raw string) string {
		sig, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		return sig.Signatures[0].Header.KeyID
	}
	before := idToken()

	// As `idp admin keys rotate` does, from another process.
	keys, err := provider.NewKeyring(s.cfg.Secrets.CryptoKey, nil,
		store.New(store.Options{Client: s.redisClient(t), Prefix: s.cfg.Redis.KeyPrefix}), provider.KeyPolicy{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	var after string
	testenv.Eventually(t, 3*provider.DefaultKeyCacheTTL, func() (bool, string) {
		after = idToken()
		return kid(after) != kid(before), "the provider still signs with the rotated key"
	})

	p, err := oidc.NewProvider(context.Background(), s.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	v := p.Verifier(&oidc.Config{ClientID: st.ClientID, Now: s.Clock.Now})
	for name, raw := range map[string]string{"before": before, "after": after} {
		if _, err := v.Verify(context.Background(), raw); err != nil {
			t.Errorf("ID token signed %s the rotation: %v", name, err)
		}
	}
	list, err := keys.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, k := range list {
		states = append(states, k.State)
	}
	if got := strings.Join(states, ","); got != "retired,current,next" {
		t.Fatalf("key states = %s", got)
	}
}
