// Package oidc signs people in with an upstream OpenID provider through
// zitadel/oidc's relying-party client: code flow with PKCE, state and
// nonce; the ID token verified; claims mapped by configuration.
package oidc

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"go.opentelemetry.io/otel/attribute"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/connector"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/tracing"
)

// Config builds an upstream connector.
type Config struct {
	Upstream config.Upstream
	// RedirectURI is this provider's callback for this upstream, as
	// registered there; PostLogoutRedirectURI where the upstream sends the
	// browser back after a logout (Upstream.Logout), registered there too.
	RedirectURI, PostLogoutRedirectURI string
	// HTTPClient talks to the upstream; nil: a client with a short timeout.
	HTTPClient *http.Client
	Now        func() time.Time
	Log        *slog.Logger
	// RetryAfter is how long a failed discovery is remembered before the
	// next call tries again; zero: DefaultRetryAfter.
	RetryAfter time.Duration
}

// DefaultTimeout bounds each request to the upstream when Config.HTTPClient
// is nil; DefaultRetryAfter is the default Config.RetryAfter.
const (
	DefaultTimeout    = 10 * time.Second
	DefaultRetryAfter = 5 * time.Second
)

// Connector is one upstream provider. It discovers the provider on first
// use, not at start-up: an upstream that is down never stops this one.
type Connector struct {
	cfg  Config
	http *http.Client
	now  func() time.Time
	log  *slog.Logger

	discovery singleflight.Group

	mu       sync.Mutex
	party    rp.RelyingParty // nil until a discovery succeeds
	failedAt time.Time       // last failed discovery
	failErr  error
}

var (
	_ connector.Redirect = (*Connector)(nil)
	_ connector.Logout   = (*Connector)(nil)
)

// New returns the connector; it does not contact the upstream.
func New(cfg Config) *Connector {
	c := &Connector{cfg: cfg, http: cfg.HTTPClient, now: cfg.Now, log: cfg.Log}
	if c.http == nil {
		c.http = &http.Client{
			Timeout: DefaultTimeout,
			// The upstream's endpoints are those it published: a redirect
			// would only carry a code or token somewhere unexpected.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.cfg.RetryAfter <= 0 {
		c.cfg.RetryAfter = DefaultRetryAfter
	}
	return c
}

// ID is the upstream's id.
func (c *Connector) ID() string { return c.cfg.Upstream.ID }

// nonceKey carries the expected nonce to the ID token verifier, which
// reads it from the context of each verification.
type nonceKey struct{}

func nonceFromContext(ctx context.Context) string {
	n, _ := ctx.Value(nonceKey{}).(string)
	return n
}

// relyingParty discovers the upstream once; a failure is remembered for
// RetryAfter, then retried. Concurrent callers share one discovery.
func (c *Connector) relyingParty(ctx context.Context) (rp.RelyingParty, error) {
	if p, known, err := c.known(); known {
		return p, err
	}
	ch := c.discovery.DoChan("discover", func() (any, error) {
		// A caller that looked just before the last flight landed.
		if p, known, err := c.known(); known {
			return p, err
		}
		// Not the first caller's cancellation: the others wait on it too.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultTimeout)
		defer cancel()
		p, err := c.discover(dctx)
		c.mu.Lock()
		defer c.mu.Unlock()
		if err != nil {
			c.failedAt, c.failErr = c.now(), err
			c.log.WarnContext(ctx, "upstream discovery failed", "upstream", c.ID(), "err", err)
			return nil, err
		}
		c.party, c.failErr = p, nil
		return p, nil
	})
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: upstream %s: %w", connector.ErrUnavailable, c.ID(), ctx.Err())
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(rp.RelyingParty), nil
	}
}

// known is the relying party, or the failure still remembered.
func (c *Connector) known() (rp.RelyingParty, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.party != nil {
		return c.party, true, nil
	}
	if c.failErr != nil && c.now().Sub(c.failedAt) < c.cfg.RetryAfter {
		return nil, true, c.failErr
	}
	return nil, false, nil
}

func (c *Connector) discover(ctx context.Context) (rp.RelyingParty, error) {
	u := c.cfg.Upstream
	verifier := []rp.VerifierOption{rp.WithNonce(nonceFromContext)}
	if len(u.ACRValues) > 0 {
		// A level asked for and not obtained is not that level.
		verifier = append(verifier, rp.WithACRVerifier(zoidc.DefaultACRVerifier(u.ACRValues)))
	}
	p, err := rp.NewRelyingPartyOIDC(ctx, u.Issuer, u.ClientID, u.ClientSecret, c.cfg.RedirectURI, u.Scopes,
		rp.WithHTTPClient(c.http),
		rp.WithVerifierOpts(verifier...),
		rp.WithSigningAlgsFromDiscovery(),
	)
	if err != nil {
		if ne := networkError(err); ne != nil {
			return nil, fmt.Errorf("%w: discovery of upstream %s at %s: %w", connector.ErrUnavailable, u.ID, u.Issuer, ne)
		}
		return nil, fmt.Errorf("%w: discovery of upstream %s at %s: %s", connector.ErrUnavailable, u.ID, u.Issuer, discoveryError(err))
	}
	return p, nil
}

// LoginURL is the upstream's authorization URL for f.
func (c *Connector) LoginURL(ctx context.Context, f connector.Flow, fresh connector.Freshness) (string, error) {
	if f.State == "" || f.Nonce == "" || f.CodeVerifier == "" {
		return "", errors.New("connector/oidc: the flow needs a state, a nonce and a code verifier")
	}
	p, err := c.relyingParty(ctx)
	if err != nil {
		return "", err
	}
	opts := []rp.AuthURLOpt{
		rp.WithCodeChallenge(zoidc.NewSHACodeChallenge(f.CodeVerifier)),
		param("nonce", f.Nonce),
	}
	if len(c.cfg.Upstream.ACRValues) > 0 {
		opts = append(opts, param("acr_values", strings.Join(c.cfg.Upstream.ACRValues, " ")))
	}
	maxAge := fresh.MaxAge
	if fresh.ForceLogin {
		opts = append(opts, param("prompt", "login"))
		// max_age=0 asks the same, and obliges the upstream to say
		// auth_time (OIDC Core 3.1.2.1), without which the answer
		// cannot be shown fresh.
		zero := uint(0)
		maxAge = &zero
	}
	if maxAge != nil {
		opts = append(opts, param("max_age", strconv.FormatUint(uint64(*maxAge), 10)))
	}
	return rp.AuthURL(f.State, p, opts...), nil
}

func param(key, value string) rp.AuthURLOpt {
	return func() []oauth2.AuthCodeOption { return []oauth2.AuthCodeOption{oauth2.SetAuthURLParam(key, value)} }
}

// HandleCallback exchanges the code the upstream sent back and verifies
// what it says.
func (c *Connector) HandleCallback(ctx context.Context, f connector.Flow, q url.Values) (connector.Identity, error) {
	// One span for the round trip's back half: discovery, code exchange,
	// ID token check and userinfo at the upstream.
	ctx, span := tracing.Start(ctx, "upstream.callback", attribute.String("upstream", c.ID()))
	id, err := c.handleCallback(ctx, f, q)
	tracing.End(span, err)
	return id, err
}

func (c *Connector) handleCallback(ctx context.Context, f connector.Flow, q url.Values) (connector.Identity, error) {
	id := c.ID()
	if e := q.Get("error"); e != "" {
		return connector.Identity{}, fmt.Errorf("%w: upstream %s answered error=%q", connector.ErrRefused, id, clip(e))
	}
	code := q.Get("code")
	if code == "" {
		return connector.Identity{}, fmt.Errorf("%w: upstream %s: no code in the callback", connector.ErrInvalid, id)
	}
	if f.State == "" || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		return connector.Identity{}, fmt.Errorf("%w: upstream %s: the state does not match this browser's", connector.ErrInvalid, id)
	}
	p, err := c.relyingParty(ctx)
	if err != nil {
		return connector.Identity{}, err
	}
	// RFC 9207: an upstream that names itself in the callback must be this one.
	if iss := q.Get("iss"); iss != "" && iss != p.Issuer() {
		return connector.Identity{}, fmt.Errorf("%w: upstream %s: callback from issuer %q", connector.ErrInvalid, id, clip(iss))
	}

	tokens, err := rp.CodeExchange[*zoidc.IDTokenClaims](context.WithValue(ctx, nonceKey{}, f.Nonce), code, p,
		rp.WithCodeVerifier(f.CodeVerifier))
	if err != nil {
		return connector.Identity{}, c.exchangeError(err)
	}
	idc := tokens.IDTokenClaims
	claims := map[string]any{}
	if _, err := zoidc.ParseToken(tokens.IDToken, &claims); err != nil {
		return connector.Identity{}, fmt.Errorf("%w: upstream %s: ID token claims: %s", connector.ErrInvalid, id, checkText(err))
	}
	if c.cfg.Upstream.Userinfo {
		info, err := c.userinfo(ctx, p, tokens.AccessToken, idc.Subject)
		if err != nil {
			return connector.Identity{}, err
		}
		// The ID token's own claims say how and when: userinfo only adds
		// what describes the person.
		for k, v := range info {
			if !protected[k] {
				claims[k] = v
			}
		}
	}

	cl := c.cfg.Upstream.Claims
	ident := connector.Identity{
		Source:            id,
		Subject:           idc.Subject,
		Email:             str(claims, cl.Email),
		EmailVerified:     boolean(claims, cl.EmailVerified),
		Name:              str(claims, cl.Name),
		GivenName:         str(claims, cl.GivenName),
		FamilyName:        str(claims, cl.FamilyName),
		PreferredUsername: str(claims, cl.Username),
		AMR:               []string(idc.AuthenticationMethodsReferences),
		ACR:               idc.AuthenticationContextClassReference,
		AuthTime:          idc.GetAuthTime(),
	}
	if c.cfg.Upstream.Logout {
		ident.IDToken = tokens.IDToken
	}
	return ident, nil
}

// LogoutURL is the upstream's end_session_endpoint with idToken as
// id_token_hint, the post-logout address and state: "" when logout there
// is not configured; an error when the upstream publishes no such
// endpoint, or one off its issuer's origin.
func (c *Connector) LogoutURL(ctx context.Context, idToken, state string) (string, error) {
	if !c.cfg.Upstream.Logout || idToken == "" {
		return "", nil
	}
	p, err := c.relyingParty(ctx)
	if err != nil {
		return "", err
	}
	end := p.GetEndSessionEndpoint()
	if end == "" {
		return "", fmt.Errorf("%w: upstream %s publishes no end_session_endpoint", connector.ErrInvalid, c.ID())
	}
	u, err := url.Parse(end)
	iss, ierr := url.Parse(p.Issuer())
	if err != nil || ierr != nil || u.Scheme != iss.Scheme || u.Host != iss.Host {
		// The pages' CSP lets « Se déconnecter » lead to the issuer's
		// origin only (form-action applies to the redirect).
		return "", fmt.Errorf("%w: upstream %s: end_session_endpoint %q is not on the issuer's origin", connector.ErrInvalid, c.ID(), clip(end))
	}
	q := u.Query()
	q.Set("id_token_hint", idToken)
	q.Set("client_id", p.OAuthConfig().ClientID)
	q.Set("post_logout_redirect_uri", c.cfg.PostLogoutRedirectURI)
	q.Set("state", state)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// protected are the claims only the ID token may set.
var protected = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true, "iat": true, "nbf": true, "nonce": true,
	"acr": true, "amr": true, "auth_time": true, "azp": true, "at_hash": true, "c_hash": true, "sid": true,
}

// exchangeError sorts a failed code exchange: the upstream refusing the
// code, or a token that does not verify, proves nothing (ErrInvalid); no
// answer, a server error or unreachable keys are ErrUnavailable.
func (c *Connector) exchangeError(err error) error {
	id := c.ID()
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		// The body is the upstream's: keep only its error code.
		if status >= 500 {
			return fmt.Errorf("%w: upstream %s: token endpoint answered HTTP %d", connector.ErrUnavailable, id, status)
		}
		return fmt.Errorf("%w: upstream %s: token endpoint refused the code: HTTP %d error=%q", connector.ErrInvalid, id, status, clip(re.ErrorCode))
	}
	if ne := networkError(err); ne != nil {
		return fmt.Errorf("%w: upstream %s: token exchange: %w", connector.ErrUnavailable, id, ne)
	}
	return fmt.Errorf("%w: upstream %s: token response: %s", connector.ErrInvalid, id, checkText(err))
}

// clip bounds a value the upstream chose before it reaches a log line.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

func str(claims map[string]any, name string) string {
	if name == "" {
		return ""
	}
	s, _ := claims[name].(string)
	return s
}

// boolean reads a boolean claim; some providers send "true" as a string.
func boolean(claims map[string]any, name string) bool {
	if name == "" {
		return false
	}
	switch v := claims[name].(type) {
	case bool:
		return v
	case string:
		return strings.EqualFold(v, "true")
	}
	return false
}
