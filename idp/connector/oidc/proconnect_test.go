package oidc_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/connector"
	"github.com/region-nouvelle-aquitaine/idp/idp/connector/oidc"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// recordedProConnect replays testdata's exchange; userinfo names the
// userinfo answer it serves. Its client reaches it under the recorded
// issuer's host name.
type recordedProConnect struct {
	userinfo    atomic.Value // file name in testdata
	contentType atomic.Value
	status      atomic.Int32 // of the userinfo answer; zero: 200
	client      *http.Client
	discoveries atomic.Int32 // discovery documents served
	down        atomic.Bool  // discovery answers 503
	endSession  atomic.Value // when set, the discovery's end_session_endpoint
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func startRecordedProConnect(t *testing.T) *recordedProConnect {
	t.Helper()
	pc := &recordedProConnect{}
	pc.userinfo.Store("userinfo.jwt")
	pc.contentType.Store("application/jwt; charset=utf-8")
	mux := http.NewServeMux()
	serve := func(path, contentType, file string) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", contentType)
			_, _ = w.Write(fixture(t, file))
		})
	}
	mux.HandleFunc("GET /api/v2/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		pc.discoveries.Add(1)
		if pc.down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		doc := fixture(t, "discovery.json")
		if end, ok := pc.endSession.Load().(string); ok {
			var m map[string]any
			if err := json.Unmarshal(doc, &m); err != nil {
				t.Error(err)
			}
			m["end_session_endpoint"] = end
			doc, _ = json.Marshal(m)
		}
		_, _ = w.Write(doc)
	})
	serve("GET /api/v2/jwks", "application/json", "jwks.json")
	mux.HandleFunc("POST /api/v2/token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, basic := r.BasicAuth()
		if !basic {
			id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
		}
		w.Header().Set("Content-Type", "application/json")
		if id != fixtureClientID || secret != fixtureSecret {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		if r.PostFormValue("code") != fixtureCode || r.PostFormValue("code_verifier") != fixtureVerifier ||
			r.PostFormValue("redirect_uri") != fixtureRedirect || r.PostFormValue("grant_type") != "authorization_code" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		_, _ = w.Write(fixture(t, "token.json"))
	})
	mux.HandleFunc("GET /api/v2/userinfo", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+fixtureAccess {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", pc.contentType.Load().(string))
		if s := pc.status.Load(); s != 0 {
			w.WriteHeader(int(s))
		}
		_, _ = w.Write(fixture(t, pc.userinfo.Load().(string)))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	// The recorded issuer is https://auth.proconnect.test: every
	// connection goes to the replaying server, in clear.
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
		},
		DialTLSContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	pc.client = &http.Client{Transport: tr, Timeout: 5 * time.Second}
	return pc
}

// ProConnect as idp/config's preset sets it up.
func proConnectUpstream() config.Upstream {
	return config.Upstream{
		ID: "proconnect", Preset: config.UpstreamProConnect, Issuer: fixtureIssuer,
		ClientID: fixtureClientID, ClientSecret: fixtureSecret,
		Scopes:    []string{"openid", "email", "given_name", "usual_name", "uid"},
		ACRValues: []string{"eidas1"}, Userinfo: true, SignedUserinfo: true,
		Claims: config.UpstreamClaims{Email: "email", EmailVerified: "email_verified", Name: "name",
			GivenName: "given_name", FamilyName: "usual_name", Username: "uid"},
	}
}

var fixtureFlow = connector.Flow{State: fixtureState, Nonce: fixtureNonce, CodeVerifier: fixtureVerifier}

func TestProConnectSignedUserinfo(t *testing.T) {
	ctx := t.Context()
	pc := startRecordedProConnect(t)
	callback := url.Values{"code": {fixtureCode}, "state": {fixtureState}}
	for _, tc := range []struct {
		name, userinfo, contentType string
		want                        error
		wantText                    string
	}{
		{name: "good signature", userinfo: "userinfo.jwt"},
		{name: "signed by another key", userinfo: "userinfo-bad-signature.jwt", want: connector.ErrInvalid, wantText: "signature"},
		{name: "wrong issuer", userinfo: "userinfo-wrong-iss.jwt", want: connector.ErrInvalid, wantText: "issuer"},
		{name: "wrong audience", userinfo: "userinfo-wrong-aud.jwt", want: connector.ErrInvalid, wantText: "audience"},
		{name: "unsigned (alg none)", userinfo: "userinfo-none.jwt", want: connector.ErrInvalid, wantText: "signature algorithm"},
		{name: "another person", userinfo: "userinfo-other-sub.jwt", want: connector.ErrInvalid, wantText: "sub"},
		{name: "plain JSON", userinfo: "discovery.json", contentType: "application/json", want: connector.ErrInvalid, wantText: "not a signed JWT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pc.userinfo.Store(tc.userinfo)
			pc.contentType.Store(cmpOr(tc.contentType, "application/jwt; charset=utf-8"))
			c := oidc.New(oidc.Config{Upstream: proConnectUpstream(), RedirectURI: fixtureRedirect, HTTPClient: pc.client})
			id, err := c.HandleCallback(ctx, fixtureFlow, callback)
			if tc.want != nil {
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.wantText) {
					t.Fatalf("HandleCallback: %v, want %v saying %q", err, tc.want, tc.wantText)
				}
				return
			}
			if err != nil {
				t.Fatalf("HandleCallback: %v", err)
			}
			want := connector.Identity{Source: "proconnect", Subject: fixtureSubject,
				Email: "camille.martin@nouvelle-aquitaine.gouv.fr", GivenName: "Camille", FamilyName: "Martin",
				PreferredUsername: "cmartin", ACR: "eidas1", AMR: []string{"pwd"}}
			if id.Source != want.Source || id.Subject != want.Subject || id.Email != want.Email || id.EmailVerified ||
				id.GivenName != want.GivenName || id.FamilyName != want.FamilyName ||
				id.PreferredUsername != want.PreferredUsername || id.ACR != want.ACR || !slices.Equal(id.AMR, want.AMR) ||
				id.AuthTime.IsZero() {
				t.Errorf("identity = %+v, want %+v", id, want)
			}
		})
	}
}

// The caller logs the error: it must not carry the nonce, nor a token
// or the person's claims from an answer the connector refused.
func TestCallbackErrorCarriesNoSecret(t *testing.T) {
	const otherNonce = "browser-nonce-fedcba9876543210fedcba9876543210"
	callback := url.Values{"code": {fixtureCode}, "state": {fixtureState}}
	unsigned := proConnectUpstream()
	unsigned.SignedUserinfo = false
	for _, tc := range []struct {
		name     string
		upstream config.Upstream
		nonce    string // the flow's; empty: the recorded token's
		status   int    // of the userinfo answer; zero: 200
		want     error
		wantText string
	}{
		{name: "nonce mismatch", upstream: proConnectUpstream(), nonce: otherNonce, want: connector.ErrInvalid, wantText: "nonce"},
		{name: "signed userinfo where JSON was configured", upstream: unsigned, want: connector.ErrInvalid, wantText: "application/jwt"},
		{name: "userinfo error with a body", upstream: unsigned, status: http.StatusInternalServerError,
			want: connector.ErrUnavailable, wantText: "HTTP 500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pc := startRecordedProConnect(t)
			pc.status.Store(int32(tc.status))
			f := fixtureFlow
			f.Nonce = cmpOr(tc.nonce, f.Nonce)
			c := oidc.New(oidc.Config{Upstream: tc.upstream, RedirectURI: fixtureRedirect, HTTPClient: pc.client})
			_, err := c.HandleCallback(t.Context(), f, callback)
			if err == nil {
				t.Fatal("HandleCallback succeeded")
			}
			for _, secret := range []string{fixtureNonce, otherNonce, "eyJ", fixtureAccess, "camille"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %.300q… carries %q", err, secret)
				}
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("HandleCallback: %.300q…, want %v saying %q", err, tc.want, tc.wantText)
			}
			for _, other := range []error{connector.ErrInvalid, connector.ErrUnavailable, connector.ErrRefused} {
				if other != tc.want && errors.Is(err, other) {
					t.Errorf("HandleCallback: %.300q… is also %v", err, other)
				}
			}
		})
	}
}

func TestProConnectLoginURL(t *testing.T) {
	pc := startRecordedProConnect(t)
	c := oidc.New(oidc.Config{Upstream: proConnectUpstream(), RedirectURI: fixtureRedirect, HTTPClient: pc.client})
	raw, err := c.LoginURL(t.Context(), fixtureFlow, connector.Freshness{})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(raw)
	q := u.Query()
	if got := u.Scheme + "://" + u.Host + u.Path; got != fixtureIssuer+"/authorize" {
		t.Errorf("authorization endpoint %s", got)
	}
	for k, v := range map[string]string{"acr_values": "eidas1", "scope": "openid email given_name usual_name uid",
		"nonce": fixtureNonce, "state": fixtureState, "code_challenge": challengeS256(fixtureVerifier)} {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
}

func TestProConnectACRNotObtained(t *testing.T) {
	pc := startRecordedProConnect(t)
	u := proConnectUpstream()
	// The recorded ID token says eidas1: not the level asked for.
	u.ACRValues = []string{"eidas2"}
	c := oidc.New(oidc.Config{Upstream: u, RedirectURI: fixtureRedirect, HTTPClient: pc.client})
	_, err := c.HandleCallback(t.Context(), fixtureFlow, url.Values{"code": {fixtureCode}, "state": {fixtureState}})
	if !errors.Is(err, connector.ErrInvalid) || !strings.Contains(err.Error(), "acr") {
		t.Fatalf("HandleCallback: %v, want ErrInvalid about acr", err)
	}
}

// Many first sign-ins at once discover once; a failure is remembered
// for RetryAfter, then retried once by the many.
func TestDiscoveryOnceForMany(t *testing.T) {
	ctx := t.Context()
	pc := startRecordedProConnect(t)
	pc.down.Store(true)
	clock := testenv.NewClock(time.Now())
	c := oidc.New(oidc.Config{Upstream: proConnectUpstream(), RedirectURI: fixtureRedirect, HTTPClient: pc.client,
		Now: clock.Now, RetryAfter: time.Minute})
	burst := func() []error {
		errs := make(chan error, 16)
		for range cap(errs) {
			go func() {
				_, err := c.LoginURL(ctx, fixtureFlow, connector.Freshness{})
				errs <- err
			}()
		}
		var all []error
		for range cap(errs) {
			all = append(all, <-errs)
		}
		return all
	}
	for _, err := range burst() {
		if !errors.Is(err, connector.ErrUnavailable) {
			t.Fatalf("LoginURL while discovery fails: %v, want ErrUnavailable", err)
		}
	}
	failed := pc.discoveries.Load()
	if failed != 1 {
		t.Fatalf("%d discoveries for 16 callers, want 1", failed)
	}
	pc.down.Store(false)
	for _, err := range burst() {
		if !errors.Is(err, connector.ErrUnavailable) {
			t.Fatalf("LoginURL within RetryAfter: %v, want the remembered ErrUnavailable", err)
		}
	}
	if n := pc.discoveries.Load(); n != failed {
		t.Fatalf("a remembered failure was retried: %d discoveries", n-failed)
	}
	clock.Advance(time.Minute)
	for _, err := range burst() {
		if err != nil {
			t.Fatalf("LoginURL after RetryAfter: %v", err)
		}
	}
	if n := pc.discoveries.Load() - failed; n != 1 {
		t.Fatalf("%d discoveries after recovery, want 1", n)
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestLogoutURL: with logout on, the callback keeps the upstream's ID
// token and the logout address carries it with the client, the
// post-logout address and the state; off, or without a token, there is
// none; an end_session_endpoint off the issuer's origin is refused (the
// pages' CSP would block the browser on its way there).
func TestLogoutURL(t *testing.T) {
	const back = "https://connexion.example/login/upstream/proconnect/logout"
	callback := url.Values{"code": {fixtureCode}, "state": {fixtureState}}
	for _, tc := range []struct {
		name       string
		logout     bool
		endSession string // "": as discovered; " ": none published
		want       string // "": no logout address
		wantErr    error
	}{
		{"off", false, "", "", nil},
		{"on", true, "", fixtureIssuer + "/session/end?", nil},
		{"on, another origin", true, "https://elsewhere.test/logout", "", connector.ErrInvalid},
		{"on, no endpoint", true, " ", "", connector.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pc := startRecordedProConnect(t)
			if tc.endSession != "" {
				pc.endSession.Store(strings.TrimSpace(tc.endSession))
			}
			u := proConnectUpstream()
			u.Logout = tc.logout
			c := oidc.New(oidc.Config{Upstream: u, RedirectURI: fixtureRedirect, PostLogoutRedirectURI: back, HTTPClient: pc.client})
			who, err := c.HandleCallback(t.Context(), fixtureFlow, callback)
			if err != nil {
				t.Fatal(err)
			}
			if (who.IDToken != "") != tc.logout {
				t.Fatalf("ID token kept: %v, want %v", who.IDToken != "", tc.logout)
			}
			got, err := c.LogoutURL(t.Context(), who.IDToken, "the-state")
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("LogoutURL: %v, want %v", err, tc.wantErr)
			}
			if tc.want == "" {
				if got != "" {
					t.Errorf("LogoutURL = %q, want none", got)
				}
				return
			}
			lu, _ := url.Parse(got)
			q := lu.Query()
			if !strings.HasPrefix(got, tc.want) || q.Get("id_token_hint") != who.IDToken || q.Get("client_id") != fixtureClientID ||
				q.Get("post_logout_redirect_uri") != back || q.Get("state") != "the-state" {
				t.Errorf("LogoutURL = %s", got)
			}
			if again, err := c.LogoutURL(t.Context(), "", "s"); again != "" || err != nil {
				t.Errorf("without a token: %q, %v", again, err)
			}
		})
	}
}
