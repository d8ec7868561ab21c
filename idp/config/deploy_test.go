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
