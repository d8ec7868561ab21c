package admin_test

import (
	"strings"
	"testing"

	"github.com/region-nouvelle-aquitaine/idp/idp/provider"
)

func TestKeys(t *testing.T) {
	e := newEnv(t)
	k, err := provider.NewKeyring([32]byte{3}, nil, e.deps.Store, provider.KeyPolicy{}, e.clk.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.deps.Keys = k

	code, out, _ := e.run(t, "keys", "list")
	if code != 0 {
		t.Fatalf("keys list: %d %s", code, out)
	}
	mustContain(t, "keys list", out, "Signing keys: 2", "alg=RS256  state=current", "alg=RS256  state=next")
	before := stateOf(out, "current")

	code, out, errs := e.run(t, "keys", "rotate")
	if code != 0 {
		t.Fatalf("keys rotate: %d %s %s", code, out, errs)
	}
	mustContain(t, "audit of keys rotate", errs, `"audit":"admin.keys.rotated"`, `"operator":"alice"`)
	_, out, _ = e.run(t, "keys", "list")
	mustContain(t, "keys list after rotate", out, "Signing keys: 3", "state=retired", before+"  alg=RS256  state=retired")
	if now := stateOf(out, "current"); now == before || !strings.Contains(errs, now) {
		t.Fatalf("current key %q after rotate (was %q); audit: %s", now, before, errs)
	}
	if strings.Contains(out, "MII") || strings.Contains(out, "der") {
		t.Fatalf("keys list shows a private part:\n%s", out)
	}

	e.deps.Keys = nil
	if code, _, errs := e.run(t, "keys", "list"); code != 1 || !strings.Contains(errs, "reset-only") {
		t.Fatalf("keys list without a provider: %d %s", code, errs)
	}
}

// stateOf returns the kid of the first key in state in a keys list output.
func stateOf(out, state string) string {
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[2] == "state="+state {
			return f[0]
		}
	}
	return ""
}
