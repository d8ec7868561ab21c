package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestDefaultProfiles(t *testing.T) {
	t.Parallel()
	c, err := Parse("idp.yaml", []byte(minimalWith(t, "support_url:", "reset:\n  elu_url: https://elus.example.org/mdp\nsupport_url:")), envFunc(testEnv()), nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range c.Profiles {
		ids = append(ids, p.ID)
	}
	if want := []string{"usager", "elu", "agent-lycees", "agent-siege", "support"}; !slices.Equal(ids, want) {
		t.Fatalf("profiles = %v, want %v", ids, want)
	}
	elu, _ := c.ProfileByID(ProfileElu)
	lycees, _ := c.ProfileByID(ProfileAgentLycees)
	usager, _ := c.ProfileByID(ProfileUsager)
	support, _ := c.ProfileByID(ProfileSupport)
	for _, tt := range []struct {
		name      string
		got, want Route
	}{
		{"élu, lost password", elu.LostPassword, Route{Via: ViaURL, URL: "https://elus.example.org/mdp"}},
		{"élu, sign-in", elu.SignIn, Route{Via: ViaNone}},
		{"agent des lycées without a URL", lycees.LostPassword, Route{Via: ViaNone}},
		{"usager, sign-in", usager.SignIn, Route{Via: ViaDirectory}},
		{"usager, lost password", usager.LostPassword, Route{Via: ViaDirectory}},
		{"support", support.LostPassword, Route{Via: ViaSupport}},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %+v, want %+v", tt.name, tt.got, tt.want)
		}
	}
	if c.Mode != ModeProvider {
		t.Errorf("mode = %q", c.Mode)
	}
}

const federated = `upstreams:
  - id: agents
    preset: proconnect
    issuer: https://auth.agentconnect.gouv.fr/api/v2
    client_id: idp-region
    client_secret_env: LDAP_PW
profiles:
  - id: usager
    label: Je suis un usager des services de la Région
    sign_in: {via: directory}
    lost_password: {via: directory}
  - id: agent-siege
    label: Je suis un agent du siège
    sign_in: {via: upstream, upstream: agents}
    lost_password: {via: url, url: https://agents.example.org/mdp}
support_url:`

func TestFederatedProfiles(t *testing.T) {
	t.Parallel()
	c, err := Parse("idp.yaml", []byte(minimalWith(t, "support_url:", federated)), envFunc(testEnv()), nil)
	if err != nil {
		t.Fatal(err)
	}
	u, ok := c.UpstreamByID("agents")
	if !ok || u.ClientSecret != "s3cret-ldap" || !u.Userinfo || !u.SignedUserinfo || !u.Logout ||
		u.Claims.FamilyName != "usual_name" || !slices.Contains(u.Scopes, "openid") {
		t.Fatalf("upstream = %+v", u)
	}
	// An explicit key wins over the preset.
	off := strings.Replace(federated, "client_secret_env: LDAP_PW", "client_secret_env: LDAP_PW\n    logout: false", 1)
	c, err = Parse("idp.yaml", []byte(minimalWith(t, "support_url:", off)), envFunc(testEnv()), nil)
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := c.UpstreamByID("agents"); u.Logout {
		t.Error("logout: false left logout on")
	}
	p, _ := c.ProfileByID("agent-siege")
	if p.SignIn != (Route{Via: ViaUpstream, Upstream: "agents"}) || len(c.Profiles) != 2 {
		t.Fatalf("profiles = %+v", c.Profiles)
	}
}

func TestProfileMistakes(t *testing.T) {
	t.Parallel()
	bad := `upstreams:
  - id: Agents
    issuer: https://auth.example.org/?x=1
    signed_userinfo: true
  - id: annuaire
    issuer: https://annuaire.example.org
    client_id: idp
    client_secret_env: LDAP_PW
  - id: elus
    issuer: https://elus.example.org
    client_id: idp
    client_secret_env: LDAP_PW
    scopes: [email]
profiles:
  - id: usager
    sign_in: {via: directory}
    lost_password: {via: upstream, upstream: elus}
  - id: usager
    label: Deux fois
    sign_in: {via: upstream, upstream: nobody}
    lost_password: {via: url}
  - id: elu
    label: Élu
    sign_in: {via: somewhere, url: https://x.example.org}
support_url:`
	_, err := Parse("bad.yaml", []byte(minimalWith(t, "support_url:", bad)), envFunc(testEnv()), nil)
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v", err)
	}
	want := map[string]int{ // path → line
		"upstreams[0].id":               17,
		"upstreams[0].issuer":           18,
		"upstreams[0].client_id":        17,
		"upstreams[0].client_secret":    17,
		"upstreams[0].signed_userinfo":  19,
		"upstreams[1].id":               20,
		"upstreams[2].scopes":           28,
		"profiles[0].label":             30,
		"profiles[0].lost_password.via": 32,
		"profiles[1].id":                33,
		"profiles[1].sign_in.upstream":  35,
		"profiles[1].lost_password.url": 36,
		"profiles[2].lost_password.via": 37,
		"profiles[2].sign_in.via":       39,
	}
	got := map[string]int{}
	for _, p := range errs {
		got[p.Path] = p.Line
	}
	for path, line := range want {
		if l, ok := got[path]; !ok {
			t.Errorf("no problem at %s; got %v", path, errs)
		} else if l != line {
			t.Errorf("%s reported at line %d, want %d", path, l, line)
		}
	}
}
