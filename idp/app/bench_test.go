package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// The benchmarks run through the real handler stack, served over
// loopback HTTP, against redis-server and slapd (testenv), with the
// throttle on and the background workers at their production delays, as
// TestSignInCost. Each reports, besides time and allocations, the Redis
// commands the server ran (INFO commandstats, script internals included)
// and the reader's LDAP operations per operation; what each iteration
// prepares (a pending sign-in, a code, a reset flow) is left out of the
// timing and of the counts. Allocations are the whole process's: the
// provider's handlers and the benchmark's own HTTP client together.
// Run with: make bench (or BENCH=SignIn make bench).

// benchStack is a stack with its counters.
type benchStack struct {
	s   *stack
	f   *signInFlow
	rc  *redisCounter
	ops *ldapOps
	ctx context.Context

	redisCmds, ldapOps int64
}

func newBenchStack(b *testing.B, opts stackOptions) *benchStack {
	b.Helper()
	bs := &benchStack{ops: &ldapOps{}, ctx: context.Background()}
	edit := opts.Config
	opts.Config = func(c *config.Config) {
		withThrottle(c)
		if edit != nil {
			edit(c)
		}
	}
	opts.LDAPMetrics, opts.ProductionWorkers = bs.ops, true
	bs.s = startStackWith(b, opts)
	bs.f = newSignInFlow(b, bs.s)
	// Warm up pooled connections, the signing key and the verifier's JWKS.
	for range 2 {
		if _, err := bs.f.signIn(bs.ctx, testenv.Users()[0]); err != nil {
			b.Fatal(err)
		}
	}
	bs.rc = newRedisCounter(b, bs.s.Redis.Addr)
	return bs
}

// timed runs op under the timer, counting its Redis commands and LDAP
// operations; the caller stops the timer for what it prepares.
func (bs *benchStack) timed(b *testing.B, op func() error) {
	b.Helper()
	b.StopTimer()
	if _, err := bs.rc.delta(bs.ctx); err != nil {
		b.Fatal(err)
	}
	bs.ops.take()
	b.StartTimer()
	err := op()
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	d, err := bs.rc.delta(bs.ctx)
	if err != nil {
		b.Fatal(err)
	}
	bs.redisCmds += total(d)
	bs.ldapOps += total(bs.ops.take())
	b.StartTimer()
}

func (bs *benchStack) report(b *testing.B) {
	b.ReportMetric(float64(bs.redisCmds)/float64(b.N), "redis-cmds/op")
	b.ReportMetric(float64(bs.ldapOps)/float64(b.N), "ldap-ops/op")
}

// BenchmarkSignIn is one complete sign-in: GET /authorize (the login
// form), POST it, the code at the site's redirect URI, POST /oauth/token, the ID
// token verified (the site's part, in the same process).
func BenchmarkSignIn(b *testing.B) {
	bs := newBenchStack(b, stackOptions{})
	u := testenv.Users()[0]
	b.ReportAllocs()
	for b.Loop() {
		bs.timed(b, func() error { _, err := bs.f.signIn(bs.ctx, u); return err })
	}
	bs.report(b)
}

// BenchmarkAuthorize is the authorization request answered with the
// login form: it stores a pending sign-in.
func BenchmarkAuthorize(b *testing.B) {
	bs := newBenchStack(b, stackOptions{})
	b.ReportAllocs()
	for b.Loop() {
		c := bs.f.browser()
		bs.timed(b, func() error { _, err := bs.f.authorize(bs.ctx, c); return err })
	}
	bs.report(b)
}

// BenchmarkLoginPOST is the login POST with the right password: the
// directory's search and bind, the session, the code, the 303 to the site.
func BenchmarkLoginPOST(b *testing.B) {
	bs := newBenchStack(b, stackOptions{})
	u := testenv.Users()[0]
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		c := bs.f.browser()
		p, err := bs.f.authorize(bs.ctx, c)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		bs.timed(b, func() error { _, err := bs.f.login(bs.ctx, c, p, u); return err })
	}
	bs.report(b)
}

// BenchmarkToken is the code's redemption at the token endpoint (client
// authentication, PKCE, the ID token and access token signed).
func BenchmarkToken(b *testing.B) {
	bs := newBenchStack(b, stackOptions{})
	u := testenv.Users()[0]
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		c := bs.f.browser()
		p, err := bs.f.authorize(bs.ctx, c)
		var code string
		if err == nil {
			code, err = bs.f.login(bs.ctx, c, p, u)
		}
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		bs.timed(b, func() error { _, err := bs.f.token(bs.ctx, code, p); return err })
	}
	bs.report(b)
}

// BenchmarkUserinfo is the userinfo endpoint with an opaque access token.
func BenchmarkUserinfo(b *testing.B) {
	bs := newBenchStack(b, stackOptions{})
	tk, err := bs.f.signIn(bs.ctx, testenv.Users()[0])
	if err != nil {
		b.Fatal(err)
	}
	c := &http.Client{Transport: bs.f.transport}
	b.ReportAllocs()
	for b.Loop() {
		bs.timed(b, func() error {
			req, _ := http.NewRequestWithContext(bs.ctx, http.MethodGet, bs.s.Issuer+"/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+tk.AccessToken)
			resp, body, err := roundTrip(bs.ctx, c, req)
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("userinfo: %d %.200s", resp.StatusCode, body)
			}
			return err
		})
	}
	bs.report(b)
}

// BenchmarkResetRequest is the POST of an address on « Mot de passe
// perdu » (the usager's journey). Each one comes from its own client
// address (X-Forwarded-For from a trusted proxy) for an address of its
// own, unknown to the directory, so that the per-address limits never
// answer instead; the directory lookup and the mail run after the answer,
// and are counted only as far as they finished by then.
func BenchmarkResetRequest(b *testing.B) {
	bs := newBenchStack(b, stackOptions{Config: func(c *config.Config) {
		c.TrustedProxies = append(c.TrustedProxies, netip.MustParsePrefix("127.0.0.0/8"))
	}})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		c := bs.f.browser()
		xff := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		post := func(path string, form url.Values) (*http.Response, string, error) {
			req, _ := http.NewRequest(http.MethodPost, bs.s.Issuer+path, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", bs.s.Issuer)
			req.Header.Set("X-Forwarded-For", xff)
			return roundTrip(bs.ctx, c, req)
		}
		token := func(path string) string {
			req, _ := http.NewRequest(http.MethodGet, bs.s.Issuer+path, nil)
			req.Header.Set("X-Forwarded-For", xff)
			_, body, err := roundTrip(bs.ctx, c, req)
			m := csrfField.FindStringSubmatch(body)
			if err != nil || m == nil {
				b.Fatalf("%s: no form token (%v)", path, err)
			}
			return m[1]
		}
		resp, _, err := post("/mot-de-passe-perdu", url.Values{"csrf_token": {token("/mot-de-passe-perdu")}, "profil": {"usager"}})
		if err != nil || resp.StatusCode != http.StatusSeeOther {
			b.Fatalf("profile: %v %v", resp, err)
		}
		form := url.Values{"csrf_token": {token("/mot-de-passe-perdu/adresse")}, "email": {fmt.Sprintf("nobody-%d@example.org", i)}}
		b.StartTimer()
		bs.timed(b, func() error {
			resp, body, err := post("/mot-de-passe-perdu/adresse", form)
			if err == nil && (resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/mot-de-passe-perdu/code") {
				err = fmt.Errorf("address: %d %q %.200s", resp.StatusCode, resp.Header.Get("Location"), body)
			}
			return err
		})
	}
	bs.report(b)
}
