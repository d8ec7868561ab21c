package config

import (
	"strings"
	"testing"
)

func TestMetricsSection(t *testing.T) {
	t.Parallel()
	if cfg := mustParse(t, minimalWith(t), nil); cfg.Metrics.Enabled() {
		t.Errorf("metrics on without a metrics section: %+v", cfg.Metrics)
	}
	if cfg := mustParse(t, minimalWith(t)+"metrics:\n  listen: 127.0.0.1:9090\n", nil); cfg.Metrics.Listen != "127.0.0.1:9090" {
		t.Errorf("metrics.listen %q", cfg.Metrics.Listen)
	}
	for _, c := range []struct{ yaml, want string }{
		{"metrics:\n  listen: nowhere\n", "metrics.listen: \"nowhere\" is not a listen address"},
		{"listen: \":8080\"\nmetrics:\n  listen: \":8080\"\n", "metrics.listen: must differ from listen"},
		{"metrics:\n  lisen: :9090\n", `unknown key "lisen"`},
	} {
		_, errs := parse(t, minimalWith(t)+c.yaml, nil)
		if !strings.Contains(errs.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.yaml, errs, c.want)
		}
	}
}

func TestLdapsyncMetricsSection(t *testing.T) {
	t.Parallel()
	base := `redis: {addrs: ["127.0.0.1:6379"]}
web_public_keys: [` + webPublicKey(t) + `]
private_key_files: [/k]
directories:
  - name: annuaire
    label: l’annuaire
    urls: [ldap://127.0.0.1]
    bind_dn: cn=w,dc=x
    bind_password_env: BIND
    base_dn: dc=x
`
	files := filesFunc(map[string]string{"/k": keyFile(t)})
	env := envFunc(map[string]string{"BIND": "bind-secret"})
	cfg, err := ParseLdapsync("ldapsync.yaml", []byte(base), env, files)
	if err != nil || cfg.Metrics.Enabled() {
		t.Fatalf("without a metrics section: %v, %+v", err, cfg)
	}
	cfg, err = ParseLdapsync("ldapsync.yaml", []byte(base+"metrics: {listen: \"127.0.0.1:9091\"}\n"), env, files)
	if err != nil || cfg.Metrics.Listen != "127.0.0.1:9091" {
		t.Fatalf("with a metrics section: %v, %+v", err, cfg)
	}
	if _, err := ParseLdapsync("ldapsync.yaml", []byte(base+"metrics: {listen: \"9091\"}\n"), env, files); err == nil || !strings.Contains(err.Error(), "metrics.listen") {
		t.Fatalf("a bad address: %v", err)
	}
}
