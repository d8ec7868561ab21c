package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/region-nouvelle-aquitaine/idp/idp/store"
)

// discovery is the library's document trimmed to what we really support,
// plus RFC 9207's flag.
type discovery struct {
	*oidc.DiscoveryConfiguration
	ISSParameterSupported bool `json:"authorization_response_iss_parameter_supported"`
}

// Discovery serves /.well-known/openid-configuration. The issuer is the
// configured one, never the request's Host.
func (p *Provider) Discovery() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := op.ContextWithIssuer(r.Context(), p.issuer)
		d := op.CreateDiscoveryConfig(ctx, p.op, p.storage)
		d.ResponseTypesSupported = []string{string(oidc.ResponseTypeCode)}
		d.ResponseModesSupported = []string{string(oidc.ResponseModeQuery)}
		d.GrantTypesSupported = []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
		d.CodeChallengeMethodsSupported = []oidc.CodeChallengeMethod{oidc.CodeChallengeMethodS256}
		d.TokenEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodNone}
		d.TokenEndpointAuthSigningAlgValuesSupported = nil
		// The library reads only Basic credentials at introspection.
		d.IntrospectionEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic}
		d.IntrospectionEndpointAuthSigningAlgValuesSupported = nil
		d.RevocationEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodNone}
		d.RevocationEndpointAuthSigningAlgValuesSupported = nil
		d.DeviceAuthorizationEndpoint = ""
		d.RequestObjectSigningAlgValuesSupported = nil
		d.RequestParameterSupported = false
		d.ScopesSupported = []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeOfflineAccess}
		d.ClaimsSupported = []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "at_hash",
			"email", "email_verified", "name", "given_name", "family_name", "preferred_username", ClaimIDP}
		d.UILocalesSupported = nil
		w.Header().Set("Content-Type", "application/json")
		// A public document: browser-based clients read it from anywhere.
		w.Header().Set("Access-Control-Allow-Origin", "*")
		_ = json.NewEncoder(w).Encode(discovery{DiscoveryConfiguration: d, ISSParameterSupported: true})
	})
}

// ErrorRedirect builds the authorization error response that goes back to
// a registered redirect URI, with state and iss (RFC 9207).
func (p *Provider) ErrorRedirect(redirectURI, state string, e *oidc.Error) string {
	u, err := url.Parse(redirectURI)
	if err != nil {
		return ""
	}
	q := u.Query()
	q.Set("error", string(e.ErrorType))
	if e.Description != "" {
		q.Set("error_description", e.Description)
	}
	if state != "" {
		q.Set("state", state)
	}
	q.Set("iss", p.issuer)
	u.RawQuery = q.Encode()
	return u.String()
}

// FailAuthRequest sends a pending sign-in back to its relying party with
// an error (login_required for prompt=none, say).
func (p *Provider) FailAuthRequest(w http.ResponseWriter, r *http.Request, ar *store.AuthRequest, e *oidc.Error) {
	op.AuthRequestError(w, r, authRequest{AuthRequest: ar}, e, p.op)
}

// HintClaims is what a verified id_token_hint tells.
type HintClaims struct {
	Subject  string
	ClientID string // azp
}

// ErrBadHint: the id_token_hint is not a token we issued.
var ErrBadHint = errors.New("invalid id_token_hint")

// VerifyIDTokenHint checks an id_token_hint's signature and issuer; an
// expired hint is accepted, as logout allows. It must be an ID token: the
// provider signs a client's JWT access tokens and the logout tokens with
// the same keys, and neither names an authorized party (azp), which every
// ID token here does.
func (p *Provider) VerifyIDTokenHint(ctx context.Context, hint string) (HintClaims, error) {
	ctx = op.ContextWithIssuer(ctx, p.issuer)
	claims, err := op.VerifyIDTokenHint[*oidc.IDTokenClaims](ctx, hint, p.op.IDTokenHintVerifier(ctx))
	if err != nil && !errors.As(err, &op.IDTokenHintExpiredError{}) {
		return HintClaims{}, errors.Join(ErrBadHint, err)
	}
	if claims == nil {
		return HintClaims{}, ErrBadHint
	}
	client := claims.GetAuthorizedParty()
	if client == "" || !slices.Contains(claims.Audience, client) {
		return HintClaims{}, fmt.Errorf("%w: not an ID token (azp %q, aud %q)", ErrBadHint, client, claims.Audience)
	}
	return HintClaims{Subject: claims.GetSubject(), ClientID: client}, nil
}
