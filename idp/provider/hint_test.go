package provider

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestIDTokenHintIsAnIDToken: only an ID token is an id_token_hint. The
// provider signs other JWTs with the same keys (a client's JWT access
// tokens, logout tokens); taken as a hint, a token forwarded to an API,
// or caught in a log, would end the person's session at /end_session
// without asking and send the browser to that client's logout page.
func TestIDTokenHintIsAnIDToken(t *testing.T) {
	f := newFixtureWith(t, func(c *Config) { c.Clients[0].JWTAccessTokens = true }) // conf
	p := f.p
	a := f.exchange(t, "conf", f.code(t, "conf", confCB, testVerifier))
	access, _ := tokens(t, a)
	idToken, _ := a.body["id_token"].(string)
	logoutToken, err := p.LogoutToken(context.Background(), "conf", "jdupont", "session-ref", "delivery-1", 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, hint string
		ok         bool
	}{
		{"ID token", idToken, true},
		{"JWT access token", access, false},
		{"logout token", logoutToken, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.VerifyIDTokenHint(context.Background(), tc.hint)
			switch {
			case tc.ok && (err != nil || got.ClientID != "conf" || got.Subject == ""):
				t.Errorf("%+v, %v; want the hint of conf's sign-in", got, err)
			case !tc.ok && !errors.Is(err, ErrBadHint):
				t.Errorf("%+v, %v; want ErrBadHint", got, err)
			}
		})
	}
}
