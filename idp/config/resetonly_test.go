package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
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

// TestBehindSSOExamples keeps deploy/behind-sso/ and deploy/proxy/ in
// step with this provider: every JSON file parses, the Keycloak identity
// provider and the LemonLDAP::NG provider name this provider's endpoints
// under the example issuer, no client secret is written in clear where a
// reference can be, and the proxy forwards to the sidecar's listen address.
func TestBehindSSOExamples(t *testing.T) {
	t.Parallel()
	read := func(parts ...string) []byte {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(append([]string{"..", ".."}, parts...)...))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	issuer := regexp.MustCompile(`(?m)^issuer: (\S+)$`).FindSubmatch(read("deploy", "config", "idp.yaml"))
	if issuer == nil {
		t.Fatal("deploy/config/idp.yaml has no issuer line")
	}
	iss := string(issuer[1])

	files, err := filepath.Glob(filepath.Join("..", "..", "deploy", "behind-sso", "*.json"))
	if err != nil || len(files) < 2 {
		t.Fatalf("deploy/behind-sso/*.json: %v %v", files, err)
	}
	for _, f := range files {
		var v any
		if err := json.Unmarshal(read("deploy", "behind-sso", filepath.Base(f)), &v); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}

	var kc struct {
		IdentityProviders []struct {
			Alias      string
			ProviderID string `json:"providerId"`
			Config     map[string]string
		}
		IdentityProviderMappers []struct {
			IdentityProviderAlias string
			Config                map[string]string
		}
	}
	if err := json.Unmarshal(read("deploy", "behind-sso", "keycloak-identity-provider.json"), &kc); err != nil {
		t.Fatal(err)
	}
	if len(kc.IdentityProviders) != 1 || kc.IdentityProviders[0].ProviderID != "oidc" {
		t.Fatalf("identity providers = %+v, want one of type oidc", kc.IdentityProviders)
	}
	idp := kc.IdentityProviders[0]
	for key, path := range map[string]string{
		"issuer": "", "authorizationUrl": "/authorize", "tokenUrl": "/oauth/token", "userInfoUrl": "/userinfo",
		"jwksUrl": "/keys", "logoutUrl": "/end_session",
	} {
		if got := idp.Config[key]; got != iss+path {
			t.Errorf("keycloak %s = %q, want %q", key, got, iss+path)
		}
	}
	if idp.Config["pkceMethod"] != "S256" || !strings.HasPrefix(idp.Config["clientSecret"], "${vault.") ||
		!strings.Contains(idp.Config["defaultScope"], "openid") {
		t.Errorf("keycloak config = %v", idp.Config)
	}
	claims := map[string]bool{}
	for _, m := range kc.IdentityProviderMappers {
		if m.IdentityProviderAlias != idp.Alias {
			t.Errorf("a mapper of %q, not of %q", m.IdentityProviderAlias, idp.Alias)
		}
		claims[m.Config["claim"]] = true
		// The account is keyed on sub, the one claim unique across the
		// identity sources (an agent's upstream login may be a usager's).
		if tpl, ok := m.Config["template"]; ok && tpl != "${CLAIM.sub}" {
			t.Errorf("keycloak username template %q, want ${CLAIM.sub}", tpl)
		}
	}
	for _, c := range []string{"email", "given_name", "family_name", "idp"} {
		if !claims[c] {
			t.Errorf("no keycloak mapper for the claim %s", c)
		}
	}

	var ll struct {
		Authentication        string                       `json:"authentication"`
		OidcOPMetaDataOptions map[string]map[string]any    `json:"oidcOPMetaDataOptions"`
		ExportedVars          map[string]map[string]string `json:"oidcOPMetaDataExportedVars"`
	}
	if err := json.Unmarshal(read("deploy", "behind-sso", "lemonldap-ng.json"), &ll); err != nil {
		t.Fatal(err)
	}
	for id, o := range ll.OidcOPMetaDataOptions {
		if o["oidcOPMetaDataOptionsConfigurationURI"] != iss+"/.well-known/openid-configuration" {
			t.Errorf("lemonldap %s: metadata URL %v", id, o["oidcOPMetaDataOptionsConfigurationURI"])
		}
		if ll.ExportedVars[id]["mail"] != "email" || ll.ExportedVars[id]["uid"] != "sub" {
			t.Errorf("lemonldap %s: exported vars %v", id, ll.ExportedVars[id])
		}
	}
	if ll.Authentication != "OpenIDConnect" || len(ll.OidcOPMetaDataOptions) != 1 {
		t.Errorf("lemonldap: authentication %q, %d providers", ll.Authentication, len(ll.OidcOPMetaDataOptions))
	}

	nginx := string(read("deploy", "proxy", "nginx-idp.conf"))
	listen := regexp.MustCompile(`(?m)^listen: "(\S+)"$`).FindStringSubmatch(string(read("deploy", "sidecar", "idp.yaml")))
	if listen == nil || !strings.Contains(nginx, "server "+listen[1]+";") ||
		!strings.Contains(nginx, "X-Forwarded-For $proxy_add_x_forwarded_for") {
		t.Errorf("the nginx site does not forward to the sidecar's listen address %v with X-Forwarded-For", listen)
	}
}
