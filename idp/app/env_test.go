package app_test

import (
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"github.com/region-nouvelle-aquitaine/idp/idp/app"
	"github.com/region-nouvelle-aquitaine/idp/idp/dev"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/completion"
	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/dev/demorp"
	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
	"github.com/region-nouvelle-aquitaine/idp/idp/login"
	"github.com/region-nouvelle-aquitaine/idp/idp/mail"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/ldapconn"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
	"github.com/region-nouvelle-aquitaine/idp/ldapsync"
	"github.com/region-nouvelle-aquitaine/idp/ldapsync/directory"
)

// site is a test relying party served on its own loopback host, so that
// its cookies never mix with the provider's or another site's.
type site struct {
	*demorp.RP
	URL      string
	ClientID string
	Secret   string
	// BackchannelDown makes the site's back-channel endpoint answer 503,
	// as a site that is down would (nil: never).
	BackchannelDown *atomic.Bool
}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.BackchannelDown != nil && s.BackchannelDown.Load() && r.URL.Path == "/backchannel" {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	s.RP.ServeHTTP(w, r)
}

// stack is a provider wired to real slapd and redis-server, with two
// sites: one on 127.0.0.2, one on localhost.
type stack struct {
	Issuer string
	Slapd  *testenv.Slapd
	Second *testenv.Slapd // a second directory target, or nil
	Redis  *testenv.Redis
	SMTP   *testenv.SMTPSink
	Clock  *testenv.Clock // running: background workers see time pass; tests jump over delays
	Sites  []*site
	Logs   *testenv.Buffer
	cfg    *config.Config
	app    *app.App
	// workerKey is the in-process ldapsync's private key.
	workerKey     hpke.PrivateKey
	workerRetries int

	// TLS is the test CA when the stack serves https (stackOptions.HTTPS).
	TLS *testenv.CA
	// wrapDirectory is stackOptions.Directory.
	wrapDirectory func(login.Directory) login.Directory
	// ldapMetrics is stackOptions.LDAPMetrics.
	ldapMetrics ldapconn.Metrics
	// production is stackOptions.ProductionWorkers.
	production bool
	// redisHook is stackOptions.RedisHook.
	redisHook redis.Hook
	// systemRootsOnly: build leaves backchannel_logout.ca_file out over
	// https, so the sites' test CA is trusted nowhere.
	systemRootsOnly bool
}

func listen(t testing.TB, host string) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatalf("listen on %s: %v", host, err)
	}
	return ln, "http://" + ln.Addr().String()
}

func serveOn(t testing.TB, ln net.Listener, h http.Handler) {
	t.Helper()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
}

func secret(t testing.TB) string {
	t.Helper()
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// testConfig is what an operator would write, for the test hosts.
func testConfig(issuer string, sites []*site) *config.Config {
	cfg := dev.Config(dev.Addr, "unused")
	cfg.Issuer = issuer
	cfg.PublicURL = issuer
	cfg.Clients = nil
	for _, s := range sites {
		cfg.Clients = append(cfg.Clients, config.Client{
			ID: s.ClientID, Name: "Site " + s.ClientID,
			SecretSHA256:           sha256.Sum256([]byte(s.Secret)),
			RedirectURIs:           []string{s.URL + "/callback"},
			PostLogoutRedirectURIs: []string{s.URL + "/"},
			HomeURL:                s.URL + "/",
			AccessTokenFormat:      config.AccessTokenOpaque,
			BackchannelLogoutURI:   s.RP.BackchannelURI(),
		})
	}
	// A site that was down is told within seconds.
	cfg.Backchannel = config.Backchannel{Timeout: 2 * time.Second, FirstRetry: 200 * time.Millisecond, MaxRetry: time.Second, GiveUpAfter: time.Minute}
	// Two more clients on the first site's host: a public one (PKCE
	// required) and one that wants JWT access tokens.
	base := sites[0].URL
	cfg.Clients = append(cfg.Clients,
		config.Client{ID: "public", Name: "Application publique", Public: true, RedirectURIs: []string{base + "/public/callback"}},
		config.Client{
			ID: "jwt", Name: "API", SecretSHA256: sha256.Sum256([]byte(jwtClientSecret)),
			RedirectURIs: []string{base + "/jwt/callback"}, AccessTokenFormat: config.AccessTokenJWT,
		})
	return cfg
}

const jwtClientSecret = "jwt-client-secret-for-tests-only-0123456789"

// startStack starts slapd, redis-server, the provider and two sites.
func startStack(t testing.TB) *stack {
	t.Helper()
	return startStackWith(t, stackOptions{})
}

func (s *stack) build(t testing.TB, cfg *config.Config) *app.App {
	t.Helper()
	log := slog.New(slog.NewJSONHandler(s.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("provider logs:\n%s", s.Logs.String())
		}
	})
	dir, err := ldapauth.New(ldapauth.Config{
		Config:     ldapconn.Config{URLs: []string{s.Slapd.URL}, BindDN: s.Slapd.ReaderDN, BindPassword: s.Slapd.ReaderPassword, Timeout: 5 * time.Second, Metrics: s.ldapMetrics},
		BaseDN:     s.Slapd.PeopleDN,
		UserFilter: config.DefaultUserFilter,
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dir.Close() })
	var signIn login.Directory = dir
	if s.wrapDirectory != nil {
		signIn = s.wrapDirectory(dir)
	}
	deps := app.Deps{
		Redis: s.redisClient(t), Directory: signIn, Accounts: dir, Now: s.Clock.Now, Log: log,
		Worker: s.worker(t, cfg, log),
		MailTweak: func(c *mail.Config) {
			// Retry within the test's patience, not the production minutes.
			c.RetryDelay, c.MaxRetryDelay, c.Block = 100*time.Millisecond, 500*time.Millisecond, 200*time.Millisecond
		},
		CompletionTweak: func(c *completion.Config) { c.Block, c.ClaimAfter = 200*time.Millisecond, 500*time.Millisecond },
	}
	if s.TLS != nil && !s.systemRootsOnly && cfg.Backchannel.CAFile == "" {
		// The sites are served with the test CA: the provider is told of it
		// as an operator would of an internal CA.
		cfg.Backchannel.CAFile = filepath.Join(t.TempDir(), "ca.pem")
		if err := os.WriteFile(cfg.Backchannel.CAFile, s.TLS.PEM(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if s.redisHook != nil {
		deps.Redis.AddHook(s.redisHook)
	}
	if s.production {
		deps.Worker, deps.MailTweak, deps.CompletionTweak = nil, nil, nil
	}
	a, err := app.Build(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

// worker runs ldapsync against the test slapd as its writer account, with
// delays short enough for a test.
func (s *stack) worker(t testing.TB, cfg *config.Config, log *slog.Logger) func(context.Context) error {
	t.Helper()
	target := func(d *testenv.Slapd, name, label, findBy string) ldapsync.Target {
		w, err := directory.New(directory.Config{
			Config: ldapconn.Config{URLs: []string{d.URL}, BindDN: d.WriterDN, BindPassword: d.WriterPassword, Timeout: 2 * time.Second},
			BaseDN: d.PeopleDN,
		}, log)
		if err != nil {
			t.Fatal(err)
		}
		return ldapsync.Target{
			Name: name, Label: label, FindBy: findBy, CheckSubject: d == s.Slapd,
			PolicyDN: "cn=default,ou=policies," + d.BaseDN, Writer: w,
		}
	}
	targets := []ldapsync.Target{target(s.Slapd, "annuaire", "l’annuaire des usagers", ldapsync.FindByUID)}
	if s.Second != nil {
		targets = append(targets, target(s.Second, "lycees", "la messagerie des lycées", ldapsync.FindByMail))
	}
	wk, err := ldapsync.New(ldapsync.Options{
		Redis: s.redisClient(t), Prefix: cfg.Redis.KeyPrefix, PrivateKeys: []hpke.PrivateKey{s.workerKey},
		Targets: targets, WebPublicKeys: []ed25519.PublicKey{cfg.Ldapsync.SigningKey.Public().(ed25519.PublicKey)},
		Now: s.Clock.Now, Log: log,
		Lease: 5 * time.Second, RetryBackoff: 200 * time.Millisecond, MaxRetryBackoff: time.Second,
		RetryLimit: s.workerRetries, PollInterval: 50 * time.Millisecond, PolicyInterval: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return wk.Run
}

// redisClient is a client for the stack's Redis, made from the
// configuration as the production binary does when the servers are not
// the lone redis-server; closed in t.Cleanup.
func (s *stack) redisClient(t testing.TB) redis.UniversalClient {
	t.Helper()
	if s.Redis != nil {
		return s.Redis.Client(t)
	}
	c := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: s.cfg.Redis.Addrs, MasterName: s.cfg.Redis.MasterName, ClientName: "idp"})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// records is a store of the test's own on the stack's Redis, to read and
// write the provider's records as an attacker with Redis access, or a
// race the test stages, would.
func (s *stack) records(t testing.TB) *store.Store {
	t.Helper()
	return store.New(store.Options{Client: s.Redis.Client(t), Prefix: s.cfg.Redis.KeyPrefix, Now: s.Clock.Now})
}

// noRedirect is an HTTP client that shows redirects instead of following.
func noRedirect() *http.Client {
	return &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func timeout(t *testing.T, parent context.Context) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(parent, 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
