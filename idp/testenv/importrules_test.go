package testenv

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// The import rules that keep the tiers apart, checked with `go list` on
// the whole module. They live beside the harness because one of them is
// about it: no production package may import it.

// pkg is what `go list -json` says of one package, without its tests.
type pkg struct {
	ImportPath string
	Deps       []string // direct and indirect
}

func goList(t *testing.T, args ...string) []pkg {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, ee.Stderr)
		}
		t.Fatalf("go list %s: %v", strings.Join(args, " "), err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			return pkgs
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
}

// under reports whether path is root or a package below it.
func under(path, root string) bool { return path == root || strings.HasPrefix(path, root+"/") }

// testSupport: the harness and the helpers only tests import (storetest…).
func testSupport(mod, path string) bool {
	return under(path, mod+"/idp/testenv") || strings.HasSuffix(path, "test")
}

func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-m").Output()
	mod := strings.TrimSpace(string(out))
	if err != nil || mod == "" {
		t.Fatalf("go list -m: %q, %v", mod, err)
	}
	for _, r := range []struct {
		name string
		// Every package patterns list (but those skip names) must depend
		// on nothing forbidden, directly or not.
		patterns  []string
		skip      func(path string) bool
		forbidden func(dep string) bool
	}{
		{
			name:     "the production idp links no dev part, test harness, demo upstream nor directory writer",
			patterns: []string{mod + "/cmd/idp"},
			forbidden: func(dep string) bool {
				return under(dep, "github.com/alicebob/miniredis") || under(dep, "github.com/yuin/gopher-lua") ||
					under(dep, "github.com/chromedp") ||
					strings.HasPrefix(dep, mod+"/idp/dev") || under(dep, mod+"/deploy/dev") ||
					under(dep, mod+"/idp/testenv") || under(dep, mod+"/ldapsync") ||
					// zitadel's example provider: dev mode's demo upstream.
					under(dep, "github.com/zitadel/oidc/v3/example")
			},
		},
		{
			name:     "the password writer never links the web tier",
			patterns: []string{mod + "/ldapsync/...", mod + "/cmd/ldapsync"},
			forbidden: func(dep string) bool {
				return under(dep, mod+"/idp") && !under(dep, mod+"/idp/shared") && !under(dep, mod+"/idp/config")
			},
		},
		{
			name:      "no production package imports the test harness",
			patterns:  []string{mod + "/..."},
			skip:      func(path string) bool { return testSupport(mod, path) },
			forbidden: func(dep string) bool { return under(dep, mod+"/idp/testenv") },
		},
	} {
		t.Run(r.name, func(t *testing.T) {
			pkgs := goList(t, append([]string{"-json=ImportPath,Deps"}, r.patterns...)...)
			if len(pkgs) == 0 {
				t.Fatalf("go list %v: no package", r.patterns)
			}
			for _, p := range pkgs {
				if r.skip != nil && r.skip(p.ImportPath) {
					continue
				}
				var bad []string // Deps is sorted: a package before those below it
				for _, d := range p.Deps {
					if r.forbidden(d) && (len(bad) == 0 || !under(d, bad[len(bad)-1])) {
						bad = append(bad, d)
					}
				}
				if len(bad) > 0 {
					t.Errorf("%s depends on %s", p.ImportPath, strings.Join(bad, ", "))
				}
			}
		})
	}
}
