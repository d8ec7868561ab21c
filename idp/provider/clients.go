package provider

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/url"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Client is a relying party registered in configuration.
type Client struct {
	ID   string
	Name string
	// SecretSHA256 is the SHA-256 of the client secret; empty for public
	// clients. A secret is 32 random bytes or more, so a fast hash is
	// enough: there is nothing to brute-force.
	SecretSHA256 []byte
	Public       bool
	RedirectURIs []string
	// PostLogoutRedirectURIs are the only addresses end_session returns to.
	PostLogoutRedirectURIs []string
	HomeURL                string
	// JWTAccessTokens asks for self-contained access tokens instead of
	// opaque ones.
	JWTAccessTokens bool
	// BackchannelLogoutURI receives a logout token when a session the
	// client signed in through ends; "" for none.
	BackchannelLogoutURI string
}

// secretMatches compares in constant time.
func (c *Client) secretMatches(secret string) bool {
	if c.Public || len(c.SecretSHA256) != sha256.Size {
		return false
	}
	sum := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(sum[:], c.SecretSHA256) == 1
}

// RedirectURIAllowed reports whether uri is one of the client's redirect
// URIs: byte for byte, except that a public client's loopback redirect URI
// on an IP literal (http://127.0.0.1/cb, http://[::1]/cb) matches any
// port, since a native app listens on whatever port the system gives it
// (RFC 8252, section 7.3). Scheme, address, path and query must still be
// identical; "localhost" is not a loopback literal (it may resolve
// elsewhere, RFC 8252 section 8.3) and gets no such leeway.
func (c *Client) RedirectURIAllowed(uri string) bool {
	if slices.Contains(c.RedirectURIs, uri) {
		return true
	}
	if !c.Public {
		return false
	}
	got, ok := loopbackLiteral(uri)
	if !ok {
		return false
	}
	for _, r := range c.RedirectURIs {
		if reg, ok := loopbackLiteral(r); ok && reg.Hostname() == got.Hostname() &&
			reg.EscapedPath() == got.EscapedPath() && reg.RawQuery == got.RawQuery {
			return true
		}
	}
	return false
}

// loopbackLiteral parses an http URI whose host is a loopback IP literal
// written the canonical way, with a port or none, and nothing a native
// app's listener would not see (no user info, no fragment).
func loopbackLiteral(raw string) (*url.URL, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.User != nil || u.Fragment != "" || u.RawFragment != "" ||
		u.Opaque != "" || u.ForceQuery || u.Path == "" {
		return nil, false
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() || ip.String() != u.Hostname() {
		return nil, false
	}
	if p := u.Port(); p != "" {
		if len(p) > 5 || p[0] == '0' {
			return nil, false
		}
		n := 0
		for _, d := range p {
			n = n*10 + int(d-'0')
		}
		if n < 1 || n > 65535 {
			return nil, false
		}
	} else if u.Host != u.Hostname() && u.Host != "["+u.Hostname()+"]" {
		return nil, false // "127.0.0.1:" with an empty port
	}
	return u, true
}

// opClient is the view of a Client that zitadel/oidc consumes.
type opClient struct {
	*Client
	loginURL    func(string) string
	idTokenLife time.Duration
}

var _ op.Client = (*opClient)(nil)

func (c *opClient) GetID() string                    { return c.ID }
func (c *opClient) RedirectURIs() []string           { return c.Client.RedirectURIs }
func (c *opClient) PostLogoutRedirectURIs() []string { return c.Client.PostLogoutRedirectURIs }
func (c *opClient) LoginURL(id string) string        { return c.loginURL(id) }
func (c *opClient) IDTokenLifetime() time.Duration   { return c.idTokenLife }
func (c *opClient) ClockSkew() time.Duration         { return 0 }

// Public clients are apps on the person's device (RFC 8252): the library
// then accepts their https or loopback redirect URIs, a loopback one on
// any port. Our guard (Client.RedirectURIAllowed) is stricter: the port
// is free only on a loopback IP literal, never on "localhost".
func (c *opClient) ApplicationType() op.ApplicationType {
	if c.Public {
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}

func (c *opClient) AuthMethod() oidc.AuthMethod {
	if c.Public {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}

// Only the authorization code flow is offered.
func (c *opClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}

func (c *opClient) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}

func (c *opClient) AccessTokenType() op.AccessTokenType {
	if c.JWTAccessTokens {
		return op.AccessTokenTypeJWT
	}
	return op.AccessTokenTypeBearer
}

// DevMode would relax the library's redirect checks; never wanted. The
// library already lets confidential clients use the http loopback
// redirects that configuration allows with insecure_loopback.
func (c *opClient) DevMode() bool { return false }

func (c *opClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c *opClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// IsScopeAllowed: only the standard scopes exist here.
func (c *opClient) IsScopeAllowed(string) bool { return false }

// Profile and email claims go into the ID token too: the Région's sites
// read them there.
func (c *opClient) IDTokenUserinfoClaimsAssertion() bool { return true }
