// Package oidc signs people in with an upstream OpenID provider through
// zitadel/oidc's relying-party client: code flow with PKCE, state and
// nonce; the ID token verified; claims mapped by configuration.
package oidc

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/connector"
)

// Config builds an upstream connector.
type Config struct {
	Upstream config.Upstream
	// RedirectURI is this provider's callback for this upstream, as
	// registered there.
	RedirectURI string
	// HTTPClient talks to the upstream; nil: a client with a short timeout.
	HTTPClient *http.Client
	Now        func() time.Time
	Log        *slog.Logger
}

// Connector is one upstream provider. It discovers the provider on first
// use, not at start-up: an upstream that is down never stops this one.
type Connector struct{ cfg Config }

var _ connector.Redirect = (*Connector)(nil)

// New returns the connector; it does not contact the upstream.
func New(cfg Config) *Connector { return &Connector{cfg: cfg} }

// ID is the upstream's id.
func (c *Connector) ID() string { return c.cfg.Upstream.ID }

var errTODO = errors.New("connector/oidc: not implemented yet")

// LoginURL is the upstream's authorization URL for f.
func (c *Connector) LoginURL(ctx context.Context, f connector.Flow) (string, error) {
	return "", errTODO
}

// HandleCallback exchanges the code the upstream sent back and verifies
// what it says.
func (c *Connector) HandleCallback(ctx context.Context, f connector.Flow, q url.Values) (connector.Identity, error) {
	return connector.Identity{}, errTODO
}
