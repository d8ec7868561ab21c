package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Upstream is zitadel/oidc's example OpenID provider (exampleop), served
// in-process on a loopback port: an upstream provider élus and agents
// sign in with, for tests. One confidential client (client_secret_basic,
// PKCE S256 accepted) is registered with the redirect URIs given; its
// login page is a username and password form that SignIn fills in.
//
// Its ID tokens carry sub, amr ["pwd"], auth_time and the nonce; the
// person's email and names come from userinfo only (scopes email and
// profile), as with many real providers.
type Upstream struct {
	Issuer       string // http://127.0.0.1:port, as the discovery document says
	ClientID     string
	ClientSecret string

	// The one person who can sign in, and what the provider says of them.
	Username, Password string
	Subject            string
	Email              string // email_verified is true
	GivenName          string
	FamilyName         string
	PreferredUsername  string // = Username

	t       testing.TB
	addr    string
	store   *upstreamStorage
	handler http.Handler
	mu      sync.Mutex
	srv     *http.Server // nil while stopped
}

// StartUpstream starts the provider; it stops in t.Cleanup.
func StartUpstream(t testing.TB, redirectURIs ...string) *Upstream {
	t.Helper()
	return StartUpstreamWith(t, UpstreamOptions{RedirectURIs: redirectURIs})
}

// UpstreamOptions are the client's registered addresses.
type UpstreamOptions struct {
	RedirectURIs []string
	// PostLogoutRedirectURIs are accepted at its end_session_endpoint,
	// which also records each logout (Logouts).
	PostLogoutRedirectURIs []string
}

// StartUpstreamWith is StartUpstream with options.
func StartUpstreamWith(t testing.TB, opts UpstreamOptions) *Upstream {
	t.Helper()
	redirectURIs := opts.RedirectURIs
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("upstream provider: %v", err)
	}
	u := &Upstream{
		t:            t,
		addr:         ln.Addr().String(),
		Issuer:       "http://" + ln.Addr().String(),
		ClientID:     "idp-region",
		ClientSecret: randomHex(t, 16),
	}
	users := storage.NewUserStore(u.Issuer)
	// The example's demo user; its name carries the issuer's host.
	person := users.GetUserByID("id1")
	u.Username, u.Password, u.Subject = person.Username, person.Password, person.ID
	u.Email, u.GivenName, u.FamilyName = person.Email, person.FirstName, person.LastName
	u.PreferredUsername = person.Username
	// Clients of our own, not the example's package-level registry: tests
	// in parallel each have theirs.
	clients := map[string]*storage.Client{u.ClientID: storage.WebClient(u.ClientID, u.ClientSecret, redirectURIs...)}
	u.store = &upstreamStorage{Storage: storage.NewStorageWithClients(users, clients), postLogout: opts.PostLogoutRedirectURIs}
	// A nil logger keeps the example from replacing slog's default.
	u.handler = exampleop.SetupServer(u.Issuer, u.store, nil, false)
	u.serve(ln)
	t.Cleanup(u.Stop)
	return u
}

func (u *Upstream) serve(ln net.Listener) {
	srv := &http.Server{Handler: u.handler, ReadHeaderTimeout: 5 * time.Second}
	u.mu.Lock()
	u.srv = srv
	u.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// Stop makes the provider unreachable (connections refused), keeping
// its state: Start brings it back on the same address.
func (u *Upstream) Stop() {
	u.mu.Lock()
	srv := u.srv
	u.srv = nil
	u.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Start serves the provider again after Stop, on the same address.
func (u *Upstream) Start() {
	u.t.Helper()
	u.mu.Lock()
	running := u.srv != nil
	u.mu.Unlock()
	if running {
		return
	}
	ln, err := net.Listen("tcp", u.addr)
	if err != nil {
		u.t.Fatalf("upstream provider: listen again on %s: %v", u.addr, err)
	}
	u.serve(ln)
}

// Logouts are the sessions its end_session_endpoint ended, as
// "subject client_id", in order.
func (u *Upstream) Logouts() []string {
	u.store.mu.Lock()
	defer u.store.mu.Unlock()
	return slices.Clone(u.store.ended)
}

// upstreamStorage is the example's storage with post-logout addresses
// for the client (the example registers none) and a record of logouts.
type upstreamStorage struct {
	*storage.Storage
	postLogout []string
	mu         sync.Mutex
	ended      []string
}

func (s *upstreamStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return loggingOutClient{Client: c, postLogout: s.postLogout}, nil
}

func (s *upstreamStorage) TerminateSession(ctx context.Context, userID, clientID string) error {
	s.mu.Lock()
	s.ended = append(s.ended, userID+" "+clientID)
	s.mu.Unlock()
	return s.Storage.TerminateSession(ctx, userID, clientID)
}

type loggingOutClient struct {
	op.Client
	postLogout []string
}

func (c loggingOutClient) PostLogoutRedirectURIs() []string { return c.postLogout }

// SignIn is a browser at authURL (the provider's authorization URL)
// signing in as the provider's person: it returns the URL the provider
// sends the browser back to (redirect URI with code and state, or
// error), without visiting it.
func (u *Upstream) SignIn(authURL string) (*url.URL, error) {
	return u.SignInAs(authURL, u.Username, u.Password)
}

// SignInAs is SignIn with the given username and password; a wrong pair
// is an error (the provider shows its form again).
func (u *Upstream) SignInAs(authURL, username, password string) (*url.URL, error) {
	jar, _ := cookiejar.New(nil)
	origin, _ := url.Parse(u.Issuer)
	browser := &http.Client{
		Jar:     jar,
		Timeout: 10 * time.Second,
		// Follow the provider's own pages; stop at the way out.
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if req.URL.Host != origin.Host {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	resp, err := browser.Get(authURL)
	if err != nil {
		return nil, fmt.Errorf("upstream authorization: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if out := leaving(resp); out != nil {
		return out, nil // an answer without login: error=…
	}
	id := resp.Request.URL.Query().Get("authRequestID")
	if resp.StatusCode != http.StatusOK || id == "" {
		return nil, fmt.Errorf("upstream authorization: HTTP %d at %s, not the login form", resp.StatusCode, resp.Request.URL)
	}
	resp, err = browser.PostForm(u.Issuer+"/login/username", url.Values{
		"id": {id}, "username": {username}, "password": {password},
	})
	if err != nil {
		return nil, fmt.Errorf("upstream login: %w", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if out := leaving(resp); out != nil {
		return out, nil
	}
	if strings.Contains(string(body), "wrong") {
		return nil, errors.New("upstream login: username or password wrong")
	}
	return nil, fmt.Errorf("upstream login: HTTP %d at %s, no redirect back", resp.StatusCode, resp.Request.URL)
}

// leaving is where a redirect response sends the browser off the provider.
func leaving(resp *http.Response) *url.URL {
	if resp.StatusCode < 300 || resp.StatusCode > 399 {
		return nil
	}
	loc, err := resp.Location()
	if err != nil {
		return nil
	}
	return loc
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
