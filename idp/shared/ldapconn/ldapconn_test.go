package ldapconn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

func TestParseURLs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		raw      []string
		startTLS bool
		want     []string // the URLs kept, when valid
		wantErr  []string // each must appear in the error
	}{
		{"ldap", []string{"ldap://127.0.0.1:389"}, false, []string{"ldap://127.0.0.1:389"}, nil},
		{"replicas in order", []string{"ldaps://b.example.org", "ldaps://a.example.org:1636"}, false,
			[]string{"ldaps://b.example.org", "ldaps://a.example.org:1636"}, nil},
		{"StartTLS with ldap", []string{"ldap://ldap.example.org"}, true, []string{"ldap://ldap.example.org"}, nil},
		{"no URL", nil, false, nil, []string{"no URL"}},
		{"not a URL", []string{"ldap://[::1"}, false, nil, []string{`URL "ldap://[::1":`}},
		{"http", []string{"http://x"}, false, nil, []string{`URL "http://x": scheme must be ldap or ldaps`}},
		{"no scheme", []string{"ldap.example.org"}, false, nil, []string{"scheme must be ldap or ldaps"}},
		{"no host", []string{"ldap://"}, false, nil, []string{`URL "ldap://": no host`}},
		{"StartTLS with ldaps", []string{"ldaps://x"}, true, nil, []string{`URL "ldaps://x": StartTLS cannot be used with ldaps`}},
		{"every problem at once", []string{"http://x", "ldap://ok", "ldap://"}, false, nil,
			[]string{`"http://x": scheme`, `"ldap://": no host`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			urls, err := ParseURLs(tc.raw, tc.startTLS)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("ParseURLs: %v", err)
				}
				var got []string
				for _, u := range urls {
					got = append(got, u.String())
				}
				if fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Errorf("URLs = %v, want %v", got, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseURLs accepted %q", tc.raw)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestTLSConfig(t *testing.T) {
	t.Parallel()
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	ldapURL, _ := url.Parse("ldap://x")
	ldapsURL, _ := url.Parse("ldaps://x")
	tests := []struct {
		name     string
		urls     []*url.URL
		startTLS bool
		caFile   string
		wantTLS  bool
		wantErr  string
	}{
		{"clear text", []*url.URL{ldapURL}, false, "", false, ""},
		{"ldaps among the URLs", []*url.URL{ldapURL, ldapsURL}, false, "", true, ""},
		{"StartTLS", []*url.URL{ldapURL}, true, "", true, ""},
		{"missing CA file", []*url.URL{ldapsURL}, false, "/nonexistent/ca.pem", false, "CAFile: "},
		{"CA file without PEM", []*url.URL{ldapsURL}, false, notPEM, false, "CAFile " + notPEM + ": no PEM certificate found"},
		{"CA file is read even in clear text", []*url.URL{ldapURL}, false, notPEM, false, "no PEM"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := TLSConfig(tc.urls, tc.startTLS, tc.caFile)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("TLSConfig error = %v, want it to mention %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("TLSConfig: %v", err)
			}
			if (c != nil) != tc.wantTLS {
				t.Fatalf("TLSConfig = %v, want TLS %v", c, tc.wantTLS)
			}
			if c != nil && (c.MinVersion != tls.VersionTLS12 || c.RootCAs != nil) {
				t.Errorf("TLSConfig = %+v, want TLS 1.2 and the system roots", c)
			}
		})
	}
}

func TestTransient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"network", ldap.NewError(ldap.ErrorNetwork, errors.New("connection refused")), true},
		{"busy", ldap.NewError(ldap.LDAPResultBusy, nil), true},
		{"unavailable", ldap.NewError(ldap.LDAPResultUnavailable, nil), true},
		{"time limit", ldap.NewError(ldap.LDAPResultTimeLimitExceeded, nil), true},
		{"admin limit", ldap.NewError(ldap.LDAPResultAdminLimitExceeded, nil), true},
		{"other", ldap.NewError(ldap.LDAPResultOther, nil), true},
		{"timeout", ldap.NewError(ldap.LDAPResultTimeout, nil), true},
		{"server down", ldap.NewError(ldap.LDAPResultServerDown, nil), true},
		{"connect error", ldap.NewError(ldap.LDAPResultConnectError, nil), true},
		{"wrapped", fmt.Errorf("search: %w", ldap.NewError(ldap.LDAPResultBusy, nil)), true},
		{"not an LDAP error", io.ErrUnexpectedEOF, true},
		{"wrong password", ldap.NewError(ldap.LDAPResultInvalidCredentials, nil), false},
		{"no rights", ldap.NewError(ldap.LDAPResultInsufficientAccessRights, nil), false},
		{"no such object", ldap.NewError(ldap.LDAPResultNoSuchObject, nil), false},
		{"protocol error", ldap.NewError(ldap.LDAPResultProtocolError, nil), false},
		{"wrapped refusal", fmt.Errorf("StartTLS: %w", ldap.NewError(ldap.LDAPResultProtocolError, nil)), false},
	}
	for _, tc := range tests {
		if got := Transient(tc.err); got != tc.want {
			t.Errorf("%s: Transient(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

// silentServer accepts connections and never answers, as a hung
// directory does; Dial must still return within its Timeout.
func silentServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		var conns []net.Conn
		for {
			c, err := l.Accept()
			if err != nil { // closed at cleanup
				for _, c := range conns {
					c.Close()
				}
				return
			}
			conns = append(conns, c)
		}
	}()
	return l.Addr().String()
}

func TestDialFailures(t *testing.T) {
	t.Parallel()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	silent := silentServer(t)
	const timeout = 300 * time.Millisecond
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	tests := []struct {
		name     string
		url      string
		startTLS bool
		wantErr  string
	}{
		{"nothing listens", "ldap://" + closedAddr, false, "connection refused"},
		{"ldaps handshake never answered", "ldaps://" + silent, false, "TLS handshake"},
		{"StartTLS never answered", "ldap://" + silent, true, "StartTLS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u, err := url.Parse(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			c, err := Dial(context.Background(), u, Dialing{TLS: tlsCfg, StartTLS: tc.startTLS, Timeout: timeout})
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded")
			}
			if !strings.Contains(err.Error(), tc.wantErr) || !Transient(err) {
				t.Errorf("Dial = %v, want a transient error mentioning %q", err, tc.wantErr)
			}
			if d := time.Since(start); d > 4*timeout {
				t.Errorf("Dial took %v with a timeout of %v", d, timeout)
			}
		})
	}
}
