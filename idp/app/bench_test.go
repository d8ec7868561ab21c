package app_test

import (
	"crypto/sha256"
	"github.com/region-nouvelle-aquitaine/idp/idp/app"
	"github.com/region-nouvelle-aquitaine/idp/idp/dev"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"

	demo "github.com/region-nouvelle-aquitaine/idp/deploy/dev"
	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/dev/devdir"
)

// BenchmarkCodeFlow measures one whole sign-in through the real handler
// stack, from /authorize to the token response, on the in-process Redis
// and the demo directory (so the directory's bind cost is left out; see
// idp/ldapauth's benchmark for that).
func BenchmarkCodeFlow(b *testing.B) {
	mr := miniredis.RunT(b)
	dir, err := devdir.Parse(demo.Directory)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	const secret = "bench-secret-0123456789abcdef0123456789"
	cfg := dev.Config(strings.TrimPrefix(issuer, "http://"), secret)
	cfg.Clients[0].RedirectURIs = []string{"http://127.0.0.2:9/cb"}
	cfg.Clients[0].SecretSHA256 = sha256.Sum256([]byte(secret))
	cfg.Log = config.Log{Level: slog.LevelError}
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	b.Cleanup(func() { _ = rdb.Close() })
	a, err := app.Build(cfg, app.Deps{Redis: rdb, Directory: dir, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	srv.Config.Handler = a.Handler
	srv.Start()
	b.Cleanup(srv.Close)

	b.ReportAllocs()
	for b.Loop() {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		verifier := oauth2.GenerateVerifier()
		resp, err := c.Get(issuer + "/authorize?" + url.Values{
			"client_id": {dev.ClientID}, "redirect_uri": {"http://127.0.0.2:9/cb"}, "response_type": {"code"},
			"scope": {"openid email profile"}, "state": {"s"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)},
			"code_challenge_method": {"S256"},
		}.Encode())
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		loginURL := resp.Header.Get("Location")
		resp, err = c.Get(loginURL)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := csrfField.FindSubmatch(body)
		if m == nil {
			b.Fatal("no form token")
		}
		req, _ := http.NewRequest(http.MethodPost, loginURL, strings.NewReader(url.Values{
			"csrf_token": {string(m[1])}, "login": {"jdupont"}, "password": {"Correct-Horse-42"},
		}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", issuer)
		resp, err = c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		resp, err = c.Get(resp.Header.Get("Location"))
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		cb, _ := url.Parse(resp.Header.Get("Location"))
		tr, _ := http.NewRequest(http.MethodPost, issuer+"/oauth/token", strings.NewReader(url.Values{
			"grant_type": {"authorization_code"}, "code": {cb.Query().Get("code")}, "code_verifier": {verifier},
			"redirect_uri": {"http://127.0.0.2:9/cb"},
		}.Encode()))
		tr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		tr.SetBasicAuth(dev.ClientID, secret)
		resp, err = c.Do(tr)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("token: %d", resp.StatusCode)
		}
	}
}
