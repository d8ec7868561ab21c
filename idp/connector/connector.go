// Package connector is what the login screen knows of a source of
// identities: the LDAP directory of usagers is one (idp/ldapauth, through
// its own form), an upstream OpenID provider another (connector/oidc).
// A source that sends the browser away and back implements Redirect; the
// caller keeps the round trip's secrets (Flow) between the two calls.
package connector

import (
	"context"
	"errors"
	"net/url"
	"time"
)

// Identity is a person as one source vouches for them, before this
// provider names them (see Subject).
type Identity struct {
	// Source is the id of the source (an upstreams[].id, or "annuaire" for
	// the directory); Subject the source's own stable identifier.
	Source  string
	Subject string

	Email             string
	EmailVerified     bool
	Name              string
	GivenName         string
	FamilyName        string
	PreferredUsername string

	// AMR and ACR are what the source says of how the person
	// authenticated; AuthTime when (zero: the source did not say).
	AMR      []string
	ACR      string
	AuthTime time.Time

	// IDToken is the source's own ID token, kept to sign out there too
	// (Logout); "" for a source without one.
	IDToken string
}

// Flow holds the secrets of one round trip to a source, kept by the
// caller (in Redis, bound to the browser) from LoginURL to HandleCallback.
type Flow struct {
	State        string // the state parameter, also the key the caller stores the Flow under
	Nonce        string
	CodeVerifier string // PKCE (S256)
}

// Freshness is what the relying party asked of the authentication, passed
// on to the source: without it, a source's own single sign-on would answer
// a prompt=login or a max_age with an old authentication. A source may
// still ignore it: the caller checks the answer's AuthTime.
type Freshness struct {
	ForceLogin bool  // prompt=login
	MaxAge     *uint // seconds; nil when not asked
}

// Redirect is a source the browser visits: LoginURL sends it there,
// HandleCallback reads what it brings back to RedirectURI.
type Redirect interface {
	ID() string
	LoginURL(ctx context.Context, f Flow, fresh Freshness) (string, error)
	HandleCallback(ctx context.Context, f Flow, query url.Values) (Identity, error)
}

// Logout is a source the browser also signs out of, after a logout here
// (OpenID Connect RP-Initiated Logout): LogoutURL is where to send it,
// with the source's ID token and a state that comes back to the source's
// post-logout address; "" when the source is not set up for it.
type Logout interface {
	LogoutURL(ctx context.Context, idToken, state string) (string, error)
}

// Failures of a source, for the caller to word: each wraps the cause.
var (
	// ErrRefused: the person, or the source, declined (error=access_denied…).
	ErrRefused = errors.New("connector: sign-in refused by the source")
	// ErrUnavailable: the source could not be reached or answered badly
	// (discovery, token endpoint, keys).
	ErrUnavailable = errors.New("connector: source unavailable")
	// ErrInvalid: what came back does not prove anything (bad signature,
	// wrong issuer or audience, nonce mismatch, expired, missing code).
	ErrInvalid = errors.New("connector: invalid answer from the source")
)
