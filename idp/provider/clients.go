package provider

import (
	"crypto/sha256"
	"crypto/subtle"
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
}

// secretMatches compares in constant time.
func (c *Client) secretMatches(secret string) bool {
	if c.Public || len(c.SecretSHA256) != sha256.Size {
		return false
	}
	sum := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(sum[:], c.SecretSHA256) == 1
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
// then accepts their https or loopback redirect URIs. Our guard still
// demands an exact match.
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
