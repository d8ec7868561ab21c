package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSystemdHandsEverySecret: every secret file an example configuration
// reads from /run/secrets/ is a credential its systemd unit requires (not
// one marked optional with "-"), or the service would not start.
func TestSystemdHandsEverySecret(t *testing.T) {
	t.Parallel()
	read := func(parts ...string) string {
		data, err := os.ReadFile(filepath.Join(append([]string{"..", ".."}, parts...)...))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	used := regexp.MustCompile(`(?m)^[^#\n]*/run/secrets/([A-Za-z0-9._-]+)`)
	for _, name := range []string{"idp", "ldapsync"} {
		yaml, unit := read("deploy", "config", name+".yaml"), read("deploy", "systemd", name+".service")
		refs := used.FindAllStringSubmatch(yaml, -1)
		if len(refs) == 0 {
			t.Fatalf("%s.yaml reads no secret file", name)
		}
		for _, m := range refs {
			if !strings.Contains(unit, "\nLoadCredential="+m[1]+":") {
				t.Errorf("%s.yaml reads /run/secrets/%s, which %s.service does not require (LoadCredential=%s:…)", name, m[1], name, m[1])
			}
		}
	}
}

// TestMinimalExampleParses keeps deploy/config/idp.minimal.yaml, the
// trial configuration of deploy/compose.yaml, valid with its secret files,
// and minimal: nothing in it that has a default.
func TestMinimalExampleParses(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "config", "idp.minimal.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ca := testCA(t)
	files := map[string]string{
		"/run/secrets/idp-crypto-key":       cryptoKeyHex + "\n",
		"/run/secrets/idp-cookie-key":       cryptoKeyHex + "\n",
		"/run/secrets/ldap-reader-password": "reader-pw\n",
		"/run/secrets/ldapsync-public-key":  ldapsyncPublicKey() + "\n",
		"/run/secrets/ldapsync-signing-key": cryptoKeyHex + "\n",
		"/etc/idp/tls/ca.pem":               ca,
	}
	c, err := Parse("idp.minimal.yaml", data, nil, filesFunc(files))
	if err != nil {
		t.Fatalf("deploy/config/idp.minimal.yaml does not parse:\n%v", err)
	}
	if c.Ldapsync.PublicKey != ldapsyncPublicKey() || len(c.Clients) != 1 || !c.Clients[0].Public {
		t.Errorf("public key from its file %v, clients %+v", c.Ldapsync.PublicKey == ldapsyncPublicKey(), c.Clients)
	}
	for _, key := range []string{"listen:", "log:", "oidc:", "session:", "throttle:", "limits:"} {
		if strings.Contains(string(data), "\n"+key) {
			t.Errorf("the minimal configuration sets %s, which has a default", key)
		}
	}
}
