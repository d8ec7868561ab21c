package dev

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/login"
)

// DemoUpstreamID is the demo upstream provider of « Je suis un agent du
// siège » in dev mode.
const DemoUpstreamID = "siege-demo"

// demoUpstream is zitadel/oidc's example OpenID provider, served on its
// own loopback port: the provider agents of the siège sign in with in
// dev mode.
type demoUpstream struct {
	issuer             string
	username, password string
	srv                *http.Server
}

// startDemoUpstream serves the example provider with one client whose
// redirect URI is this provider's callback for it.
func startDemoUpstream(cfg *config.Config) (*demoUpstream, config.Upstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, config.Upstream{}, fmt.Errorf("demo upstream: %w", err)
	}
	d := &demoUpstream{issuer: "http://" + ln.Addr().String()}
	var b [16]byte
	_, _ = rand.Read(b[:])
	clientID, secret := "idp-dev", hex.EncodeToString(b[:])
	users := storage.NewUserStore(d.issuer)
	person := users.GetUserByID("id1")
	d.username, d.password = person.Username, person.Password
	redirect := cfg.PublicURL + login.UpstreamCallbackPath(DemoUpstreamID)
	clients := map[string]*storage.Client{clientID: storage.WebClient(clientID, secret, redirect)}
	// A nil logger keeps the example from replacing slog's default.
	h := exampleop.SetupServer(d.issuer, storage.NewStorageWithClients(users, clients), nil, false)
	d.srv = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = d.srv.Serve(ln) }()
	return d, config.Upstream{
		ID: DemoUpstreamID, Issuer: d.issuer, ClientID: clientID, ClientSecret: secret,
		Scopes: []string{"openid", "email", "profile"},
		// The example provider names the person at userinfo only.
		Userinfo: true,
		Claims: config.UpstreamClaims{
			Email: "email", EmailVerified: "email_verified", Name: "name",
			GivenName: "given_name", FamilyName: "family_name", Username: "preferred_username",
		},
	}, nil
}

func (d *demoUpstream) Close() error { return d.srv.Close() }

// withDemoUpstream makes « Je suis un agent du siège » sign in at up.
func withDemoUpstream(cfg *config.Config, up config.Upstream) {
	cfg.Upstreams = append(cfg.Upstreams, up)
	if len(cfg.Profiles) == 0 {
		cfg.Profiles = config.DefaultProfiles(cfg.Reset)
	}
	for i := range cfg.Profiles {
		if cfg.Profiles[i].ID == config.ProfileAgentSiege {
			cfg.Profiles[i].SignIn = config.Route{Via: config.ViaUpstream, Upstream: up.ID}
		}
	}
}
