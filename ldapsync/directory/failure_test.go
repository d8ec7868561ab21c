package directory

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/ldapconn"
)

// closedURL is an ldap:// URL where nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "ldap://" + addr
}

func TestUnavailable(t *testing.T) {
	t.Parallel()
	s := startSlapd(t)
	const pw = "Nouveau-mot-de-passe-1"
	tests := []struct {
		name    string
		edit    func(*Config)
		ctx     func() context.Context
		wantErr error // nil: written
		wantLog string
	}{
		{"failover past a dead replica", func(c *Config) { c.URLs = []string{closedURL(t), s.URL} }, nil, nil, "ldap failover"},
		{"every replica dead", func(c *Config) { c.URLs = []string{closedURL(t), closedURL(t)} }, nil, ErrUnavailable, "ldap connection failed"},
		{"writer password wrong", func(c *Config) { c.BindPassword = "not-the-writer-password" }, nil, ErrUnavailable, "ldap writer bind refused"},
		{"writer without rights", func(c *Config) { c.BindDN, c.BindPassword = s.ReaderDN, s.ReaderPassword }, nil, ErrRefused, "ldap password modify refused"},
		{"wrong base DN", func(c *Config) { c.BaseDN = "dc=elsewhere,dc=org" }, nil, ErrRefused, "ldap search refused"},
		{"context ended", nil, func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, ErrUnavailable, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, logs := newWriter(t, s, tc.edit)
			ctx := context.Background()
			if tc.ctx != nil {
				ctx = tc.ctx()
			}
			uid := "pmartin"
			if tc.wantErr == nil {
				uid = "elefevre" // the only case that writes
			}
			err := w.SetPassword(ctx, uid, pw)
			if tc.wantErr == nil && err != nil || !errors.Is(err, tc.wantErr) {
				t.Fatalf("SetPassword = %v, want %v", err, tc.wantErr)
			}
			if errors.Is(err, ErrOutcomeUnknown) {
				t.Errorf("nothing was sent, yet the outcome is unknown: %v", err)
			}
			if tc.wantErr != nil && !s.Binds(t, "pmartin", seeded("pmartin").Password) {
				t.Fatal("the password changed")
			}
			if tc.wantErr == nil && !s.Binds(t, uid, pw) {
				t.Fatal("the new password does not bind")
			}
			if !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("logs lack %q:\n%s", tc.wantLog, logs)
			}
			if strings.Contains(logs.String(), pw) || strings.Contains(logs.String(), s.WriterPassword) {
				t.Error("logs contain a password")
			}
		})
	}
}

func TestSlapdStopped(t *testing.T) {
	t.Parallel()
	s := startSlapd(t)
	w, _ := newWriter(t, s, nil)
	s.Stop(t)
	start := time.Now()
	err := w.SetPassword(context.Background(), "jdupont", "Nouveau-mot-de-passe-1")
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("SetPassword with slapd stopped = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
	s.Start(t)
	if err := w.SetPassword(context.Background(), "jdupont", "Nouveau-mot-de-passe-1"); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}

// TestLostAnswer breaks the connection around the Password Modify request:
// the Writer must tell "applied" from "not applied" by reading the entry,
// never by guessing.
func TestLostAnswer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		mode        proxyMode
		wantApplied bool
		wantErr     error
		wantUnknown bool
	}{
		{"request lost", dropRequest, false, ErrUnavailable, false},
		{"request never arrives", holdRequest, false, ErrUnavailable, false},
		{"answer lost", dropAnswer, true, nil, false},
		{"answer never comes", holdAnswer, true, nil, false},
		{"answer lost, then the directory unreachable", dropAnswerAll, true, ErrOutcomeUnknown, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startSlapd(t)
			p := startProxy(t, s.URL, tc.mode)
			w, logs := newWriter(t, s, func(c *Config) { c.URLs = []string{p.URL}; c.Timeout = time.Second })
			const pw = "Nouveau-mot-de-passe-1"
			err := w.SetPassword(context.Background(), "jdupont", pw)
			if tc.wantErr == nil && err != nil || !errors.Is(err, tc.wantErr) {
				t.Fatalf("SetPassword = %v, want %v", err, tc.wantErr)
			}
			if errors.Is(err, ErrOutcomeUnknown) != tc.wantUnknown {
				t.Errorf("ErrOutcomeUnknown = %v, want %v (%v)", !tc.wantUnknown, tc.wantUnknown, err)
			}
			if got := s.Binds(t, "jdupont", pw); got != tc.wantApplied {
				t.Errorf("new password binds = %v, want %v", got, tc.wantApplied)
			}
			if s.Binds(t, "jdupont", seeded("jdupont").Password) == tc.wantApplied {
				t.Errorf("old password binds = %v", !tc.wantApplied)
			}
			if strings.Contains(logs.String(), pw) {
				t.Error("logs contain the password")
			}
		})
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	good := Config{
		Config: ldapconn.Config{URLs: []string{"ldap://127.0.0.1:389"}, BindDN: "cn=w,dc=x", BindPassword: "pw"},
		BaseDN: "dc=x",
	}
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" = valid
	}{
		{"valid", func(*Config) {}, ""},
		{"no URL", func(c *Config) { c.URLs = nil }, "no URL"},
		{"bad scheme", func(c *Config) { c.URLs = []string{"http://x"} }, "scheme"},
		{"StartTLS with ldaps", func(c *Config) { c.URLs = []string{"ldaps://x"}; c.StartTLS = true }, "StartTLS"},
		{"no bind DN", func(c *Config) { c.BindDN = "" }, "BindDN"},
		{"no bind password", func(c *Config) { c.BindPassword = "" }, "BindPassword"},
		{"bad base DN", func(c *Config) { c.BaseDN = "nope" }, "BaseDN"},
		{"filter without login", func(c *Config) { c.UserFilter = "(uid=x)" }, "{login}"},
		{"bad filter", func(c *Config) { c.UserFilter = "(uid={login}" }, "UserFilter"},
		{"missing CA file", func(c *Config) { c.CAFile = "/nonexistent/ca.pem" }, "CAFile"},
	}
	for _, tc := range tests {
		cfg := good
		tc.edit(&cfg)
		_, err := New(cfg, nil)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: New = %v, want %q", tc.name, err, tc.want)
		}
	}
	// Every problem at once.
	_, err := New(Config{}, nil)
	for _, want := range []string{"no URL", "BaseDN", "BindDN", "BindPassword"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New(Config{}) = %v, lacks %q", err, want)
		}
	}
}
