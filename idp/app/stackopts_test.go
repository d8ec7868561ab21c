package app_test

import (
	"cmp"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/dev/demorp"
	"github.com/region-nouvelle-aquitaine/idp/idp/login"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/ldapconn"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// stackOptions vary startStack for one test.
type stackOptions struct {
	// Slapd seeds the directory (extra accounts in given states, …).
	Slapd testenv.SlapdOptions
	// Config edits the configuration before the provider is built.
	Config func(*config.Config)
	// WorkerRetries bounds the in-process ldapsync's retries while the
	// directory is down; 0 means 20.
	WorkerRetries int
	// Second, when set, starts a second directory that ldapsync writes
	// after the first, finding people there by mail.
	Second *testenv.SlapdOptions
	// HTTPS serves the provider and the sites over https with the test CA:
	// the issuer is https, so every cookie of the provider is __Host- and
	// Secure. Open browsers with stack.browser.
	HTTPS bool
	// Directory, when set, wraps the directory the sign-in form checks
	// passwords against (the reset journeys still use the real one).
	Directory func(login.Directory) login.Directory
	// Redis, when set, replaces the lone redis-server: it starts the
	// servers and returns the configuration's redis section for them (a
	// Cluster's nodes, or Sentinels and their master name). stack.Redis
	// is then nil.
	Redis func(t testing.TB) config.Redis
	// LDAPMetrics, when set, records each operation of the sign-in
	// directory (the reader), as the production metrics hook does.
	LDAPMetrics ldapconn.Metrics
	// ProductionWorkers keeps the production delays of the provider's
	// background workers (mail, completion) and runs no ldapsync in the
	// process, as in production: what they send to Redis then stays out of
	// a count of the sign-in's own commands.
	ProductionWorkers bool
	// RedisHook, when set, sees every command the provider's Redis client
	// sends (the client of app.Build).
	RedisHook redis.Hook
}

// startStackWith is startStack with options.
func startStackWith(t testing.TB, opts stackOptions) *stack {
	t.Helper()
	s := &stack{
		Slapd: testenv.StartSlapd(t, opts.Slapd),
		SMTP:  testenv.StartSMTP(t),
		Clock: testenv.NewRunningClock(),
		Logs:  &testenv.Buffer{},

		wrapDirectory: opts.Directory,
		ldapMetrics:   opts.LDAPMetrics,
		production:    opts.ProductionWorkers,
		redisHook:     opts.RedisHook,
	}
	var redisConf *config.Redis
	if opts.Redis != nil {
		rc := opts.Redis(t)
		redisConf = &rc
	} else {
		s.Redis = testenv.StartRedis(t)
	}
	if opts.HTTPS {
		s.TLS = testenv.LoopbackCA(t)
	}
	idpLn, issuer := s.listen(t, "127.0.0.1")
	s.Issuer = issuer
	for i, host := range []string{"127.0.0.2", "localhost"} {
		ln, base := s.listen(t, host)
		st := &site{URL: base, ClientID: fmt.Sprintf("site%d", i+1), Secret: secret(t), BackchannelDown: new(atomic.Bool)}
		st.RP = demorp.New(demorp.Config{Issuer: issuer, ClientID: st.ClientID, ClientSecret: st.Secret, BaseURL: base, HTTPClient: s.client()})
		serveOn(t, ln, st)
		s.Sites = append(s.Sites, st)
	}
	s.cfg = testConfig(issuer, s.Sites)
	if opts.HTTPS {
		s.secureConfig()
	}
	s.cfg.Mail.Host, s.cfg.Mail.Port, s.cfg.Mail.TLS = "127.0.0.1", s.SMTP.Port, config.MailPlain
	key, err := job.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s.workerKey = key
	s.workerRetries = cmp.Or(opts.WorkerRetries, 20)
	if opts.Second != nil {
		s.Second = testenv.StartSlapd(t, *opts.Second)
	}
	s.cfg.Ldapsync.PublicKey = job.MarshalPublicKey(key.PublicKey())
	if s.cfg.Ldapsync.SigningKey, err = job.GenerateSigningKey(); err != nil {
		t.Fatal(err)
	}
	if redisConf != nil {
		s.cfg.Redis.Addrs, s.cfg.Redis.MasterName = redisConf.Addrs, redisConf.MasterName
	}
	if opts.Config != nil {
		opts.Config(s.cfg)
	}
	s.app = s.build(t, s.cfg)
	serveOn(t, idpLn, s.app.Handler)
	return s
}

// withThrottle switches the throttle on with its defaults (the built-in
// test configuration has it off).
func withThrottle(c *config.Config) { c.Throttle = config.DefaultThrottle() }

// person is an extra directory account for one test.
func person(uid string) testenv.User {
	return testenv.User{UID: uid, Password: "Right-Password-" + uid, Mail: uid + "@example.org", GivenName: "Test", Surname: uid}
}
