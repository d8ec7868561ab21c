package app_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestClientEndpointsTakeTheBodyOnly: the token, revocation and
// introspection endpoints take POST only, and nothing in the URL: a code,
// a token or a client secret there ends up in proxies' and servers' logs
// (RFC 6749 §2.3.1 and §3.2). Refused, the code is not spent: the site's
// proper request then gets its tokens.
func TestClientEndpointsTakeTheBodyOnly(t *testing.T) {
	s := startStack(t)
	site := s.Sites[0]
	b := newBrowserless(t, s)
	code, verifier := b.code(site, nil)
	form := codeForm(code, verifier, site.URL+"/callback")
	withSecret := url.Values{"client_id": {site.ClientID}, "client_secret": {site.Secret}}
	for k, v := range form {
		withSecret[k] = v
	}

	tests := []struct {
		name, method, path string
		query, body        url.Values
		basic              bool
		want               int
	}{
		{"token by GET", http.MethodGet, "/oauth/token", withSecret, nil, false, http.StatusMethodNotAllowed},
		{"token by GET, Basic", http.MethodGet, "/oauth/token", form, nil, true, http.StatusMethodNotAllowed},
		{"token, everything in the URL", http.MethodPost, "/oauth/token", withSecret, nil, false, http.StatusBadRequest},
		{"token, the secret in the URL", http.MethodPost, "/oauth/token", url.Values{"client_secret": {site.Secret}}, form, false, http.StatusBadRequest},
		{"token, the code in the URL", http.MethodPost, "/oauth/token", url.Values{"code": {code}}, url.Values{"grant_type": {"authorization_code"}}, true, http.StatusBadRequest},
		{"revocation in the URL", http.MethodPost, "/revoke", url.Values{"token": {"x"}}, nil, true, http.StatusBadRequest},
		{"introspection by GET", http.MethodGet, "/oauth/introspect", url.Values{"token": {"x"}}, nil, true, http.StatusMethodNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, s.Issuer+tc.path+"?"+tc.query.Encode(), strings.NewReader(tc.body.Encode()))
			if tc.body != nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			if tc.basic {
				req.SetBasicAuth(site.ClientID, site.Secret)
			}
			resp, err := noRedirect().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tc.want || body["error"] != "invalid_request" || body["access_token"] != nil {
				t.Errorf("%d %v, want %d invalid_request", resp.StatusCode, body, tc.want)
			}
		})
	}
	if a := s.token(t, site, form, true); a.status != http.StatusOK {
		t.Errorf("the site's own request after those: %d %v", a.status, a.body["error"])
	}
}
