package provider

import (
	"net/http"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// A native app's loopback redirect URI is registered without a port and
// used with whatever port the system gave the app; anything else still
// matches byte for byte.
func TestRedirectURIAllowedLoopbackPorts(t *testing.T) {
	t.Parallel()
	native := &Client{ID: "app", Public: true, RedirectURIs: []string{
		"http://127.0.0.1/callback", "http://[::1]/callback", "http://127.0.0.1/q?app=1",
		"http://localhost/callback", "https://app.example.org/cb",
	}}
	web := &Client{ID: "web", RedirectURIs: []string{"http://127.0.0.1/callback"}}
	tests := []struct {
		name   string
		client *Client
		uri    string
		want   bool
	}{
		{"exact", native, "http://127.0.0.1/callback", true},
		{"any port", native, "http://127.0.0.1:54321/callback", true},
		{"port 1", native, "http://127.0.0.1:1/callback", true},
		{"highest port", native, "http://127.0.0.1:65535/callback", true},
		{"ipv6 any port", native, "http://[::1]:8123/callback", true},
		{"query kept", native, "http://127.0.0.1:4000/q?app=1", true},

		{"other path", native, "http://127.0.0.1:54321/callback/x", false},
		{"trailing slash", native, "http://127.0.0.1:54321/callback/", false},
		{"path case", native, "http://127.0.0.1:54321/Callback", false},
		{"query added", native, "http://127.0.0.1:54321/callback?x=1", false},
		{"empty query", native, "http://127.0.0.1:54321/callback?", false},
		{"query changed", native, "http://127.0.0.1:4000/q?app=2", false},
		{"fragment", native, "http://127.0.0.1:54321/callback#x", false},
		{"user info", native, "http://evil@127.0.0.1:54321/callback", false},
		{"https", native, "https://127.0.0.1:54321/callback", false},
		{"localhost any port", native, "http://localhost:54321/callback", false},
		{"other loopback address", native, "http://127.0.0.2:54321/callback", false},
		{"ipv4 for an ipv6 registration", native, "http://[::1]:54321/q?app=1", false},
		{"ipv6 spelled long", native, "http://[0:0:0:0:0:0:0:1]:8123/callback", false},
		{"ipv4-mapped ipv6", native, "http://[::ffff:127.0.0.1]:8123/callback", false},
		{"empty port", native, "http://127.0.0.1:/callback", false},
		{"port 0", native, "http://127.0.0.1:0/callback", false},
		{"port too high", native, "http://127.0.0.1:65536/callback", false},
		{"port with leading zero", native, "http://127.0.0.1:080/callback", false},
		{"not loopback", native, "http://10.0.0.1:54321/callback", false},
		{"https site with a port", native, "https://app.example.org:8443/cb", false},
		{"confidential client", web, "http://127.0.0.1:54321/callback", false},
		{"confidential client exact", web, "http://127.0.0.1/callback", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.client.RedirectURIAllowed(tt.uri); got != tt.want {
				t.Errorf("RedirectURIAllowed(%q) = %v, want %v", tt.uri, got, tt.want)
			}
			// What the guard lets through, the library must accept too,
			// or the request would fail later with an English error.
			if tt.want {
				oc := &opClient{Client: tt.client}
				if err := op.ValidateAuthReqRedirectURI(oc, tt.uri, oidc.ResponseTypeCode); err != nil {
					t.Errorf("the library refuses %q: %v", tt.uri, err)
				}
			}
		})
	}
}

// The code minted for a port is redeemed with that same redirect URI
// only: the token endpoint compares it with the sign-in's, exactly.
func TestLoopbackPortAtTheTokenEndpoint(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c, _ := f.p.Client("public")
	c.RedirectURIs = append(c.RedirectURIs, "http://127.0.0.1/native")
	g := f.code(t, "public", "http://127.0.0.1:49152/native", testVerifier)
	other := g
	other.redirect = "http://127.0.0.1:49153/native"
	wantError(t, f.exchange(t, "public", other), http.StatusBadRequest, "invalid_grant")
	portless := g
	portless.redirect = "http://127.0.0.1/native"
	wantError(t, f.exchange(t, "public", portless), http.StatusBadRequest, "invalid_grant")
	tokens(t, f.exchange(t, "public", g)) // the code is still usable
}
