package oidc_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/connector"
	"github.com/region-nouvelle-aquitaine/idp/idp/connector/oidc"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

const redirectURI = "http://127.0.0.1:1/login/upstream/agents/callback"

// upstreamConfig is what idp/config gives for a preset-less upstream.
func upstreamConfig(up *testenv.Upstream) config.Upstream {
	return config.Upstream{
		ID:           "agents",
		Issuer:       up.Issuer,
		ClientID:     up.ClientID,
		ClientSecret: up.ClientSecret,
		Scopes:       []string{"openid", "email", "profile"},
		Userinfo:     true,
		Claims: config.UpstreamClaims{Email: "email", EmailVerified: "email_verified", Name: "name",
			GivenName: "given_name", FamilyName: "family_name", Username: "preferred_username"},
	}
}

func newFlow(tag string) connector.Flow {
	return connector.Flow{State: "state-" + tag, Nonce: "nonce-" + tag, CodeVerifier: strings.Repeat("v", 43) + tag}
}

// signIn runs LoginURL and the person's sign-in at the upstream; it
// returns the callback's query.
func signIn(t *testing.T, ctx context.Context, c *oidc.Connector, up *testenv.Upstream, f connector.Flow) url.Values {
	t.Helper()
	login, err := c.LoginURL(ctx, f, connector.Freshness{})
	if err != nil {
		t.Fatalf("LoginURL: %v", err)
	}
	back, err := up.SignIn(login)
	if err != nil {
		t.Fatalf("sign-in at the upstream: %v", err)
	}
	if got := back.Scheme + "://" + back.Host + back.Path; got != redirectURI {
		t.Fatalf("the upstream sent the browser to %s, want %s", got, redirectURI)
	}
	return back.Query()
}

// challengeS256 is RFC 7636's S256: BASE64URL(SHA256(verifier)), unpadded.
func challengeS256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func TestLoginURL(t *testing.T) {
	ctx := t.Context()
	up := testenv.StartUpstream(t, redirectURI)
	u := upstreamConfig(up)
	u.ACRValues = []string{"eidas1", "eidas2"}
	c := oidc.New(oidc.Config{Upstream: u, RedirectURI: redirectURI})
	f := newFlow("a")
	raw, err := c.LoginURL(ctx, f, connector.Freshness{})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := url.Parse(raw)
	q := got.Query()
	want := map[string]string{
		"client_id": up.ClientID, "redirect_uri": redirectURI, "response_type": "code",
		"scope": "openid email profile", "state": f.State, "nonce": f.Nonce,
		"code_challenge_method": "S256", "acr_values": "eidas1 eidas2",
		"code_challenge": challengeS256(f.CodeVerifier),
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	if !strings.HasPrefix(raw, up.Issuer+"/") {
		t.Errorf("authorization URL %s is not the upstream's", raw)
	}
	for _, absent := range []string{"prompt", "max_age"} {
		if q.Has(absent) {
			t.Errorf("%s = %q, asked for nothing", absent, q.Get(absent))
		}
	}
	// prompt=login goes with max_age=0, to which the upstream must
	// answer with auth_time.
	zero, hour := uint(0), uint(3600)
	for _, tc := range []struct {
		fresh          connector.Freshness
		prompt, maxAge string
	}{
		{connector.Freshness{ForceLogin: true}, "login", "0"},
		{connector.Freshness{ForceLogin: true, MaxAge: &zero}, "login", "0"},
		{connector.Freshness{ForceLogin: true, MaxAge: &hour}, "login", "0"},
		{connector.Freshness{MaxAge: &hour}, "", "3600"},
	} {
		raw, err = c.LoginURL(ctx, newFlow("b"), tc.fresh)
		if err != nil {
			t.Fatal(err)
		}
		got, _ = url.Parse(raw)
		if q := got.Query(); q.Get("prompt") != tc.prompt || q.Get("max_age") != tc.maxAge {
			t.Errorf("%+v passed on as prompt %q, max_age %q; want %q, %q", tc.fresh, q.Get("prompt"), q.Get("max_age"), tc.prompt, tc.maxAge)
		}
	}
	if _, err := c.LoginURL(ctx, connector.Flow{State: "s"}, connector.Freshness{}); err == nil {
		t.Error("LoginURL accepted a flow without nonce and code verifier")
	}
}

func TestHandleCallbackHappyPath(t *testing.T) {
	ctx := t.Context()
	up := testenv.StartUpstream(t, redirectURI)
	for _, userinfo := range []bool{true, false} {
		t.Run(map[bool]string{true: "with userinfo", false: "ID token only"}[userinfo], func(t *testing.T) {
			u := upstreamConfig(up)
			u.Userinfo = userinfo
			c := oidc.New(oidc.Config{Upstream: u, RedirectURI: redirectURI})
			f := newFlow("happy")
			start := time.Now().Add(-time.Second)
			id, err := c.HandleCallback(ctx, f, signIn(t, ctx, c, up, f))
			if err != nil {
				t.Fatalf("HandleCallback: %v", err)
			}
			want := connector.Identity{Source: "agents", Subject: up.Subject, AMR: []string{"pwd"}}
			if userinfo {
				// exampleop sends the person's claims through userinfo only.
				want.Email, want.EmailVerified = up.Email, true
				want.Name = up.GivenName + " " + up.FamilyName
				want.GivenName, want.FamilyName, want.PreferredUsername = up.GivenName, up.FamilyName, up.PreferredUsername
			}
			if id.Source != want.Source || id.Subject != want.Subject || id.Email != want.Email ||
				id.EmailVerified != want.EmailVerified || id.Name != want.Name || id.GivenName != want.GivenName ||
				id.FamilyName != want.FamilyName || id.PreferredUsername != want.PreferredUsername ||
				!slices.Equal(id.AMR, want.AMR) {
				t.Errorf("identity = %+v, want %+v", id, want)
			}
			if id.AuthTime.Before(start.Truncate(time.Second)) || id.AuthTime.After(time.Now()) {
				t.Errorf("auth time %v, want the sign-in's", id.AuthTime)
			}
		})
	}
}

func TestClaimsMappedByConfiguration(t *testing.T) {
	ctx := t.Context()
	up := testenv.StartUpstream(t, redirectURI)
	u := upstreamConfig(up)
	// Another provider's names for the same things.
	u.Claims = config.UpstreamClaims{Email: "preferred_username", Name: "family_name", Username: "email",
		EmailVerified: "missing"}
	c := oidc.New(oidc.Config{Upstream: u, RedirectURI: redirectURI})
	f := newFlow("map")
	id, err := c.HandleCallback(ctx, f, signIn(t, ctx, c, up, f))
	if err != nil {
		t.Fatal(err)
	}
	if id.Email != up.PreferredUsername || id.Name != up.FamilyName || id.PreferredUsername != up.Email ||
		id.EmailVerified || id.GivenName != "" || id.FamilyName != "" {
		t.Errorf("identity = %+v", id)
	}
}

func TestHandleCallbackFailures(t *testing.T) {
	ctx := t.Context()
	up := testenv.StartUpstream(t, redirectURI)
	for _, tc := range []struct {
		name string
		// callback alters the flow the caller kept and the query the
		// browser brought back from a real sign-in.
		callback func(f *connector.Flow, q url.Values)
		want     error
		wantText string
	}{
		{name: "upstream refused", callback: func(_ *connector.Flow, q url.Values) {
			q.Del("code")
			q.Set("error", "access_denied")
		}, want: connector.ErrRefused, wantText: "access_denied"},
		{name: "login required", callback: func(_ *connector.Flow, q url.Values) {
			q.Del("code")
			q.Set("error", "login_required")
		}, want: connector.ErrRefused, wantText: "login_required"},
		{name: "no code", callback: func(_ *connector.Flow, q url.Values) { q.Del("code") }, want: connector.ErrInvalid},
		{name: "state mismatch", callback: func(_ *connector.Flow, q url.Values) { q.Set("state", "forged") }, want: connector.ErrInvalid},
		{name: "no state", callback: func(_ *connector.Flow, q url.Values) { q.Del("state") }, want: connector.ErrInvalid},
		{name: "nonce mismatch", callback: func(f *connector.Flow, _ url.Values) { f.Nonce = "another" }, want: connector.ErrInvalid, wantText: "nonce"},
		{name: "wrong code verifier", callback: func(f *connector.Flow, _ url.Values) { f.CodeVerifier = strings.Repeat("w", 43) }, want: connector.ErrInvalid},
		{name: "forged code", callback: func(_ *connector.Flow, q url.Values) { q.Set("code", "forged") }, want: connector.ErrInvalid},
		{name: "another issuer in the callback", callback: func(_ *connector.Flow, q url.Values) { q.Set("iss", "https://evil.example") }, want: connector.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := oidc.New(oidc.Config{Upstream: upstreamConfig(up), RedirectURI: redirectURI})
			f := newFlow("fail")
			q := signIn(t, ctx, c, up, f)
			tc.callback(&f, q)
			_, err := c.HandleCallback(ctx, f, q)
			if !errors.Is(err, tc.want) {
				t.Fatalf("HandleCallback: %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %q does not say %q", err, tc.wantText)
			}
		})
	}
}

func TestReplayedCode(t *testing.T) {
	ctx := t.Context()
	up := testenv.StartUpstream(t, redirectURI)
	c := oidc.New(oidc.Config{Upstream: upstreamConfig(up), RedirectURI: redirectURI})
	f := newFlow("replay")
	q := signIn(t, ctx, c, up, f)
	if _, err := c.HandleCallback(ctx, f, q); err != nil {
		t.Fatalf("first callback: %v", err)
	}
	if _, err := c.HandleCallback(ctx, f, q); !errors.Is(err, connector.ErrInvalid) {
		t.Fatalf("replayed code: %v, want ErrInvalid", err)
	}
}

func TestWrongIssuer(t *testing.T) {
	ctx := t.Context()
	up := testenv.StartUpstream(t, redirectURI)
	u := upstreamConfig(up)
	// The same server under another name: its discovery document names
	// 127.0.0.1, not localhost.
	u.Issuer = strings.Replace(up.Issuer, "127.0.0.1", "localhost", 1)
	c := oidc.New(oidc.Config{Upstream: u, RedirectURI: redirectURI})
	_, err := c.LoginURL(ctx, newFlow("iss"), connector.Freshness{})
	if !errors.Is(err, connector.ErrUnavailable) || !strings.Contains(err.Error(), "issuer") {
		t.Fatalf("LoginURL: %v, want ErrUnavailable naming the issuer", err)
	}
}

func TestLazyDiscovery(t *testing.T) {
	ctx := t.Context()
	up := testenv.StartUpstream(t, redirectURI)
	up.Stop()
	clock := testenv.NewClock(time.Now())
	c := oidc.New(oidc.Config{Upstream: upstreamConfig(up), RedirectURI: redirectURI, Now: clock.Now, RetryAfter: time.Minute})
	f := newFlow("lazy")
	if _, err := c.LoginURL(ctx, f, connector.Freshness{}); !errors.Is(err, connector.ErrUnavailable) {
		t.Fatalf("LoginURL with the upstream down: %v, want ErrUnavailable", err)
	}
	q := url.Values{"code": {"x"}, "state": {f.State}}
	if _, err := c.HandleCallback(ctx, f, q); !errors.Is(err, connector.ErrUnavailable) {
		t.Fatalf("HandleCallback with the upstream down: %v, want ErrUnavailable", err)
	}

	up.Start()
	// Within RetryAfter the failure is remembered: no call to the upstream.
	if _, err := c.LoginURL(ctx, f, connector.Freshness{}); !errors.Is(err, connector.ErrUnavailable) {
		t.Fatalf("LoginURL right after the failure: %v, want the remembered ErrUnavailable", err)
	}
	clock.Advance(time.Minute)
	id, err := c.HandleCallback(ctx, f, signIn(t, ctx, c, up, f))
	if err != nil || id.Subject != up.Subject {
		t.Fatalf("after recovery: %+v, %v", id, err)
	}

	// Once discovered, the relying party is kept: the token endpoint
	// being down is then what fails, as unavailable.
	up.Stop()
	if _, err := c.LoginURL(ctx, f, connector.Freshness{}); err != nil {
		t.Fatalf("LoginURL with the upstream down after discovery: %v", err)
	}
	if _, err := c.HandleCallback(ctx, f, url.Values{"code": {"x"}, "state": {f.State}}); !errors.Is(err, connector.ErrUnavailable) {
		t.Fatalf("HandleCallback with the token endpoint down: %v, want ErrUnavailable", err)
	}
}

func TestConcurrentFirstUse(t *testing.T) {
	ctx := t.Context()
	up := testenv.StartUpstream(t, redirectURI)
	c := oidc.New(oidc.Config{Upstream: upstreamConfig(up), RedirectURI: redirectURI})
	errs := make(chan error, 8)
	for i := range cap(errs) {
		go func() {
			_, err := c.LoginURL(ctx, newFlow(string(rune('a'+i))), connector.Freshness{})
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestNewDoesNotContactTheUpstream(t *testing.T) {
	// Nothing listens on port 1: New must not care.
	c := oidc.New(oidc.Config{Upstream: config.Upstream{ID: "down", Issuer: "http://127.0.0.1:1", ClientID: "x"}, RedirectURI: redirectURI})
	if c.ID() != "down" {
		t.Errorf("ID = %q", c.ID())
	}
	if _, err := c.LoginURL(t.Context(), newFlow("down"), connector.Freshness{}); !errors.Is(err, connector.ErrUnavailable) {
		t.Errorf("LoginURL: %v, want ErrUnavailable", err)
	}
}
