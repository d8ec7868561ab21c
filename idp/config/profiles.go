package config

import (
	"regexp"
	"slices"
	"strings"
)

// Routes: where a profile's choice leads, on the login screen (SignIn)
// and on « Mot de passe perdu » (LostPassword).
const (
	ViaDirectory = "directory" // this provider's LDAP directory: the form, or this reset journey
	ViaUpstream  = "upstream"  // an upstream OpenID provider (sign-in only)
	ViaURL       = "url"       // a page elsewhere, e.g. the upstream's own reset page
	ViaSupport   = "support"   // the support page
	ViaNone      = "none"      // not offered there
)

// Route is one profile's way in or way out.
type Route struct {
	Via      string // one of the Via… constants
	Upstream string // with ViaUpstream: an upstreams[].id
	URL      string // with ViaURL
}

// Profile is one answer to « Qui êtes-vous ? ».
type Profile struct {
	ID           string // lower-case letters, digits and "-"
	Label        string // « Je suis un élu de la Région »
	Examples     string // optional line under the label
	SignIn       Route
	LostPassword Route
}

// Default profile ids: the Région's guide's five answers.
const (
	ProfileUsager      = "usager"
	ProfileElu         = "elu"
	ProfileAgentLycees = "agent-lycees"
	ProfileAgentSiege  = "agent-siege"
	ProfileSupport     = "support"
)

// DefaultProfiles are the guide's five answers, in its words and order.
// The élus' and agents' « Mot de passe perdu » lead to the reset.*_url
// settings (hidden when unset); nobody but usagers signs in here until
// profiles name upstream providers.
func DefaultProfiles(r Reset) []Profile {
	lost := func(url string) Route {
		if url == "" {
			return Route{Via: ViaNone}
		}
		return Route{Via: ViaURL, URL: url}
	}
	none := Route{Via: ViaNone}
	return []Profile{
		{ID: ProfileUsager, Label: "Je suis un usager des services de la Région",
			Examples: "Exemples\u00a0: demandeur d’aide, gestionnaire d’un lycée, partenaire, prestataire.",
			SignIn:   Route{Via: ViaDirectory}, LostPassword: Route{Via: ViaDirectory}},
		{ID: ProfileElu, Label: "Je suis un élu de la Région", SignIn: none, LostPassword: lost(r.EluURL)},
		{ID: ProfileAgentLycees, Label: "Je suis un agent des lycées", SignIn: none, LostPassword: lost(r.AgentLyceesURL)},
		{ID: ProfileAgentSiege, Label: "Je suis un agent du siège", SignIn: none, LostPassword: lost(r.AgentSiegeURL)},
		{ID: ProfileSupport, Label: "J’ai besoin de support", SignIn: none, LostPassword: Route{Via: ViaSupport}},
	}
}

// DirectorySource is what the idp claim says of people the directory
// vouched for; no upstream may take that id.
const DirectorySource = "annuaire"

// Upstream is an OpenID provider people of some profiles sign in with.
type Upstream struct {
	ID string // lower-case letters, digits and "-": in subjects, the idp claim and URLs
	// Preset fills in what a known provider needs (scopes, signed
	// userinfo, acr): "", UpstreamProConnect, UpstreamEntra,
	// UpstreamKeycloak or UpstreamLemonLDAP. Explicit keys win.
	Preset       string
	Issuer       string // discovered lazily: a provider that is down never stops this one
	ClientID     string
	ClientSecret string   // client_secret_file or client_secret_env
	Scopes       []string // default openid email profile
	ACRValues    []string // requested acr values, e.g. eidas1 for ProConnect
	// Userinfo: also read the userinfo endpoint; SignedUserinfo: its
	// answer is a signed JWT (ProConnect), verified with the issuer's keys.
	Userinfo       bool
	SignedUserinfo bool
	Claims         UpstreamClaims
	// Logout: signing out here also sends the browser to the upstream's
	// end_session_endpoint (OpenID Connect RP-Initiated Logout), so that
	// on a shared computer the next person does not find the élu or agent
	// still signed in there. The upstream must accept
	// <public_url>/login/upstream/<id>/logout as a post_logout_redirect_uri.
	// Default: on for ProConnect, which requires it of its partners.
	Logout bool
}

// UpstreamClaims names the upstream's claims that fill ours.
type UpstreamClaims struct {
	Email, EmailVerified, Name, GivenName, FamilyName, Username string
}

// Upstream presets.
const (
	UpstreamProConnect = "proconnect"
	UpstreamEntra      = "entra"
	UpstreamKeycloak   = "keycloak"
	UpstreamLemonLDAP  = "lemonldap"
)

var idPattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$`)

func (d *decoder) decodeRoute(m *mapping, r *Route) {
	m.oneOf("via", &r.Via, ViaDirectory, ViaUpstream, ViaURL, ViaSupport, ViaNone)
	m.str("upstream", &r.Upstream)
	m.str("url", &r.URL)
	m.done()
}

func (d *decoder) decodeProfile(m *mapping) Profile {
	var p Profile
	m.str("id", &p.ID)
	m.str("label", &p.Label)
	m.str("examples", &p.Examples)
	d.decodeRoute(m.sub("sign_in"), &p.SignIn)
	d.decodeRoute(m.sub("lost_password"), &p.LostPassword)
	m.done()
	return p
}

func (d *decoder) decodeUpstream(m *mapping) Upstream {
	var u Upstream
	m.str("id", &u.ID)
	m.oneOf("preset", &u.Preset, UpstreamProConnect, UpstreamEntra, UpstreamKeycloak, UpstreamLemonLDAP)
	m.str("issuer", &u.Issuer)
	m.str("client_id", &u.ClientID)
	u.ClientSecret, _ = m.secret("client_secret")
	m.strs("scopes", &u.Scopes)
	m.strs("acr_values", &u.ACRValues)
	m.boolean("userinfo", &u.Userinfo)
	m.boolean("signed_userinfo", &u.SignedUserinfo)
	m.boolean("logout", &u.Logout)
	c := m.sub("claims")
	c.str("email", &u.Claims.Email)
	c.str("email_verified", &u.Claims.EmailVerified)
	c.str("name", &u.Claims.Name)
	c.str("given_name", &u.Claims.GivenName)
	c.str("family_name", &u.Claims.FamilyName)
	c.str("username", &u.Claims.Username)
	c.done()
	m.done()
	return u
}

func (d *decoder) upstreamDefaults(c *Config) {
	for i := range c.Upstreams {
		u := &c.Upstreams[i]
		p := indexPath("upstreams", i)
		def := func(key string, set func()) {
			if !d.given(p + "." + key) {
				set()
			}
		}
		def("scopes", func() {
			u.Scopes = []string{"openid", "email", "profile"}
			if u.Preset == UpstreamProConnect {
				// ProConnect's names: given_name and usual_name.
				u.Scopes = []string{"openid", "email", "given_name", "usual_name", "uid"}
			}
		})
		def("userinfo", func() { u.Userinfo = u.Preset == UpstreamProConnect })
		def("signed_userinfo", func() { u.SignedUserinfo = u.Preset == UpstreamProConnect })
		def("logout", func() { u.Logout = u.Preset == UpstreamProConnect })
		cl := &u.Claims
		def("claims.email", func() { cl.Email = "email" })
		def("claims.email_verified", func() { cl.EmailVerified = "email_verified" })
		def("claims.name", func() { cl.Name = "name" })
		def("claims.given_name", func() { cl.GivenName = "given_name" })
		def("claims.family_name", func() {
			cl.FamilyName = "family_name"
			if u.Preset == UpstreamProConnect {
				cl.FamilyName = "usual_name"
			}
		})
		def("claims.username", func() {
			cl.Username = "preferred_username"
			switch u.Preset {
			case UpstreamProConnect:
				cl.Username = "uid"
			case UpstreamEntra:
				cl.Username = "upn"
			}
		})
	}
	if !d.given("profiles") {
		c.Profiles = DefaultProfiles(c.Reset)
	}
}

func (v *validator) upstreams() {
	seen := map[string]bool{}
	for i, u := range v.c.Upstreams {
		p := indexPath("upstreams", i)
		switch {
		case !v.d.given(p + ".id"):
			v.report(p+".id", "this setting is required: it names the provider in subjects, the idp claim and URLs")
		case !idPattern.MatchString(u.ID):
			v.report(p+".id", "%q must be 1 to 32 lower-case letters, digits or \"-\", starting and ending with a letter or digit", u.ID)
		case u.ID == DirectorySource:
			v.report(p+".id", "%q names the directory of usagers in the idp claim; choose another id", u.ID)
		case seen[u.ID]:
			v.report(p+".id", "%q is already the id of another upstream", u.ID)
		}
		seen[u.ID] = true
		if v.required(p+".issuer", u.Issuer == "") {
			v.webURL(p+".issuer", u.Issuer, v.c.InsecureLoopback, baseURL) // some issuers end with "/"; discovery compares it exactly
		}
		v.required(p+".client_id", u.ClientID == "")
		if !v.d.given(p+".client_secret") && !v.d.reported(p+".client_secret") {
			v.report(p+".client_secret", "this setting is required: give client_secret_file or client_secret_env")
		}
		if u.SignedUserinfo && !u.Userinfo {
			v.report(p+".signed_userinfo", "needs userinfo: true")
		}
		if v.d.given(p+".scopes") && !slices.Contains(u.Scopes, "openid") {
			v.report(p+".scopes", "must contain openid")
		}
	}
}

func (v *validator) profiles() {
	if v.d.given("profiles") && len(v.c.Profiles) == 0 {
		v.report("profiles", "at least one profile is required")
		return
	}
	seen := map[string]bool{}
	for i, pr := range v.c.Profiles {
		p := indexPath("profiles", i)
		if !v.d.given("profiles") {
			break // the defaults, built from checked settings
		}
		switch {
		case !v.d.given(p + ".id"):
			v.report(p+".id", "this setting is required")
		case !idPattern.MatchString(pr.ID):
			v.report(p+".id", "%q must be 1 to 32 lower-case letters, digits or \"-\", starting and ending with a letter or digit", pr.ID)
		case seen[pr.ID]:
			v.report(p+".id", "%q is already the id of another profile", pr.ID)
		}
		seen[pr.ID] = true
		if strings.TrimSpace(pr.Label) == "" {
			v.report(p+".label", "this setting is required: what the person reads")
		}
		v.route(p+".sign_in", pr.SignIn, true)
		v.route(p+".lost_password", pr.LostPassword, false)
	}
}

func (v *validator) route(path string, r Route, signIn bool) {
	if !v.d.given(path + ".via") {
		v.report(path+".via", "this setting is required: %s", orList([]string{ViaDirectory, ViaUpstream, ViaURL, ViaSupport, ViaNone}))
		return
	}
	if r.Via != ViaUpstream && v.d.given(path+".upstream") {
		v.report(path+".upstream", "only with via: upstream")
	}
	if r.Via != ViaURL && v.d.given(path+".url") {
		v.report(path+".url", "only with via: url")
	}
	switch r.Via {
	case ViaUpstream:
		if !signIn {
			v.report(path+".via", "an upstream provider signs people in; for its lost-password page use via: url")
			return
		}
		if !v.required(path+".upstream", r.Upstream == "") {
			return
		}
		if !slices.ContainsFunc(v.c.Upstreams, func(u Upstream) bool { return u.ID == r.Upstream }) {
			v.report(path+".upstream", "%q is not the id of any entry of upstreams", r.Upstream)
		}
	case ViaURL:
		if v.required(path+".url", r.URL == "") {
			v.webURL(path+".url", r.URL, v.c.InsecureLoopback, redirectURL)
		}
	}
}

// ProfileByID returns the profile called id.
func (c *Config) ProfileByID(id string) (Profile, bool) {
	i := slices.IndexFunc(c.Profiles, func(p Profile) bool { return p.ID == id })
	if i < 0 {
		return Profile{}, false
	}
	return c.Profiles[i], true
}

// UpstreamByID returns the upstream called id.
func (c *Config) UpstreamByID(id string) (Upstream, bool) {
	i := slices.IndexFunc(c.Upstreams, func(u Upstream) bool { return u.ID == id })
	if i < 0 {
		return Upstream{}, false
	}
	return c.Upstreams[i], true
}
