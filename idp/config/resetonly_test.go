package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// withoutClients is the minimal configuration without its clients.
func withoutClients(t *testing.T) string {
	t.Helper()
	return minimalWith(t, "clients:\n  - id: rp\n    secret_sha256: \""+secretHash+"\"\n    redirect_uris: [https://rp.example.org/cb]\n", "")
}

func TestResetOnlyMode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		yaml     func(t *testing.T) string
		wantPath string // "" means valid
		wantLine int
		wantMsg  string
	}{
		{"reset-only without clients", func(t *testing.T) string {
			return "mode: reset-only\n" + withoutClients(t)
		}, "", 0, ""},
		{"reset-only with empty clients", func(t *testing.T) string {
			return "mode: reset-only\nclients: []\n" + withoutClients(t)
		}, "", 0, ""},
		{"reset-only with clients", func(t *testing.T) string {
			return "mode: reset-only\n" + minimalWith(t)
		}, "clients", 8, "must be absent or empty with mode: reset-only"},
		{"provider without clients", func(t *testing.T) string {
			return "mode: provider\n" + withoutClients(t)
		}, "clients", 0, "at least one client is required (or mode: reset-only)"},
		{"unknown mode", func(t *testing.T) string {
			return "mode: sidecar\n" + minimalWith(t)
		}, "mode", 1, "reset-only"},
		{"return_to not a URL", func(t *testing.T) string {
			return "mode: reset-only\n" + strings.Replace(withoutClients(t), "support_url:", "reset:\n  return_to: [\"//sso.example.org/\"]\nsupport_url:", 1)
		}, "reset.return_to[0]", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse("idp.yaml", []byte(tc.yaml(t)), envFunc(testEnv()), nil)
			if tc.wantPath == "" {
				if err != nil {
					t.Fatalf("want valid, got:\n%v", err)
				}
				if c.Mode != ModeResetOnly || len(c.Clients) != 0 {
					t.Errorf("mode %q, %d clients", c.Mode, len(c.Clients))
				}
				return
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("err = %v, want problems", err)
			}
			i := slices.IndexFunc(errs, func(p Problem) bool { return p.Path == tc.wantPath })
			if i < 0 {
				t.Fatalf("no problem at %s; got:\n%v", tc.wantPath, err)
			}
			if p := errs[i]; (tc.wantLine != 0 && p.Line != tc.wantLine) || !strings.Contains(p.Message, tc.wantMsg) {
				t.Errorf("%s: line %d %q, want line %d saying %q", p.Path, p.Line, p.Message, tc.wantLine, tc.wantMsg)
			}
		})
	}
}

// TestSidecarExampleParses keeps deploy/sidecar/idp.yaml valid, with only
// the secret files its systemd unit would hand over.
func TestSidecarExampleParses(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "sidecar", "idp.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"/run/secrets/idp-crypto-key":       cryptoKeyHex + "\n",
		"/run/secrets/idp-cookie-key":       cookieKeyB64 + "\n",
		"/run/secrets/ldap-bind-password":   "ldap-pw\n",
		"/run/secrets/ldapsync-signing-key": cryptoKeyHex + "\n",
	}
	c, err := Parse("idp.yaml", data, nil, filesFunc(files))
	if err != nil {
		t.Fatalf("deploy/sidecar/idp.yaml does not parse:\n%v", err)
	}
	if c.Mode != ModeResetOnly || len(c.Clients) != 0 || len(c.Reset.ReturnTo) < 2 || len(c.TrustedProxies) == 0 {
		t.Errorf("mode %q, %d clients, return_to %v, trusted proxies %v", c.Mode, len(c.Clients), c.Reset.ReturnTo, c.TrustedProxies)
	}
}
