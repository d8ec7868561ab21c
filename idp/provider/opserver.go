package provider

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// opServer is the library's LegacyServer with the endpoints whose answers
// are ours: the client comes from the authentication done in front of the
// library (see WithClient), a code or refresh token is checked against
// that client before it is spent, and what the library would answer with
// the wrong status (an invalid access token, Redis down) is answered
// here with its proper error.
type opServer struct {
	*op.LegacyServer
	p *Provider
}

var _ op.Server = (*opServer)(nil)

// apiEndpoints are the endpoints the opServer serves: the ones programs
// call. The browser-facing ones stay with the library's own handler.
var apiEndpoints = op.Endpoints{
	Token:         op.DefaultEndpoints.Token,
	Introspection: op.DefaultEndpoints.Introspection,
	Userinfo:      op.DefaultEndpoints.Userinfo,
	Revocation:    op.DefaultEndpoints.Revocation,
}

// APIHandler serves the token, introspection, revocation and userinfo
// endpoints. The token, introspection and revocation requests must come
// through an authentication of their client (AuthenticateClient, then
// WithClient): without one, the client is refused.
func (p *Provider) APIHandler() http.Handler { return p.api }

func (p *Provider) newAPIHandler() http.Handler {
	s := &opServer{LegacyServer: op.NewLegacyServer(p.op, apiEndpoints), p: p}
	corsOpts := p.corsOpts
	return op.RegisterServer(s, apiEndpoints,
		op.WithServerCORSOptions(&corsOpts),
		op.WithHTTPMiddleware(func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ctx := op.ContextWithIssuer(r.Context(), p.issuer)
				ctx = context.WithValue(ctx, responseHeaderKey{}, w.Header())
				next.ServeHTTP(w, r.WithContext(ctx))
			})
		}))
}

type (
	clientKey         struct{}
	responseHeaderKey struct{}
)

// WithClient records the client that the request authenticated: the
// token, introspection and revocation endpoints serve it and no other.
func WithClient(ctx context.Context, c *Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

func clientFrom(ctx context.Context) (*Client, bool) {
	c, ok := ctx.Value(clientKey{}).(*Client)
	return c, ok && c != nil
}

// challenge sets WWW-Authenticate on the response being answered: an
// error returned to the library carries no header of its own.
func challenge(ctx context.Context, value string) {
	if h, ok := ctx.Value(responseHeaderKey{}).(http.Header); ok {
		h.Set("WWW-Authenticate", value)
	}
}

// errUnavailable: Redis did not answer; the client may try again.
func errUnavailable() error {
	return op.NewStatusError(&oidc.Error{ErrorType: "temporarily_unavailable", Description: "try again later"}, http.StatusServiceUnavailable)
}

// VerifyClient takes the client authenticated in front of the library;
// only the code and refresh token grants exist here.
func (s *opServer) VerifyClient(ctx context.Context, r *op.Request[op.ClientCredentials]) (op.Client, error) {
	c, ok := clientFrom(ctx)
	if !ok || c.ID != r.Data.ClientID {
		challenge(ctx, `Basic realm="`+s.p.issuer+`"`)
		return nil, op.NewStatusError(oidc.ErrInvalidClient().WithDescription("client authentication failed"), http.StatusUnauthorized)
	}
	switch gt := oidc.GrantType(r.Form.Get("grant_type")); gt {
	case "", oidc.GrantTypeCode, oidc.GrantTypeRefreshToken:
	default:
		return nil, oidc.ErrUnsupportedGrantType().WithDescription("%s is not supported", gt)
	}
	return s.p.storage.clients[c.ID], nil
}

// CodeExchange redeems a code once, and only for the client, redirect URI
// and PKCE verifier it was issued for (RedeemCode).
func (s *opServer) CodeExchange(ctx context.Context, r *op.ClientRequest[oidc.AccessTokenRequest]) (*op.Response, error) {
	ar, err := s.p.RedeemCode(ctx, r.Client.GetID(), r.Data.Code, r.Data.CodeVerifier, r.Data.RedirectURI)
	if err != nil {
		return nil, s.grantError(ctx, "code", err)
	}
	resp, err := op.CreateTokenResponse(ctx, ar, r.Client, s.p.op, true, r.Data.Code, "")
	if err != nil {
		return nil, s.issueError(ctx, err)
	}
	return op.NewResponse(resp), nil
}

// RefreshToken checks that the token's family belongs to the client
// before the rotation, which is atomic and detects reuse (which revokes
// the family): another client that learnt an old token cannot set it off.
func (s *opServer) RefreshToken(ctx context.Context, r *op.ClientRequest[oidc.RefreshTokenRequest]) (*op.Response, error) {
	rt, err := s.p.refreshFamilyOf(ctx, r.Client.GetID(), r.Data.RefreshToken)
	if err != nil {
		return nil, s.grantError(ctx, "refresh token", err)
	}
	req := &refreshRequest{RefreshToken: rt, token: r.Data.RefreshToken}
	if err := op.ValidateRefreshTokenScopes(r.Data.Scopes, req); err != nil {
		return nil, err
	}
	resp, err := op.CreateTokenResponse(ctx, req, r.Client, s.p.op, true, "", r.Data.RefreshToken)
	if err != nil {
		return nil, s.issueError(ctx, err)
	}
	return op.NewResponse(resp), nil
}

// JWTProfile: the grant does not exist here.
func (s *opServer) JWTProfile(context.Context, *op.Request[oidc.JWTProfileGrantRequest]) (*op.Response, error) {
	return nil, oidc.ErrUnsupportedGrantType().WithDescription("%s is not supported", oidc.GrantTypeBearer)
}

// UserInfo answers per RFC 6750: a token that is not valid (unknown,
// revoked, expired) is 401 invalid_token with its challenge, Redis down
// is 503; the library would say 401 access_denied, or 403 with the
// storage's error.
func (s *opServer) UserInfo(ctx context.Context, r *op.Request[oidc.UserInfoRequest]) (*op.Response, error) {
	tokenID, subject, ok := s.p.tokenIDAndSubject(ctx, r.Data.AccessToken)
	if !ok {
		return nil, s.invalidToken(ctx)
	}
	info := new(oidc.UserInfo)
	err := s.p.storage.SetUserinfoFromToken(ctx, info, tokenID, subject, "")
	switch {
	case errors.Is(err, ErrInvalidToken):
		return nil, s.invalidToken(ctx)
	case err != nil:
		return nil, errUnavailable()
	}
	return op.NewResponse(info), nil
}

func (s *opServer) invalidToken(ctx context.Context) error {
	challenge(ctx, `Bearer realm="`+s.p.issuer+`", error="invalid_token", error_description="`+ErrInvalidToken.Description+`"`)
	return op.NewStatusError(ErrInvalidToken, http.StatusUnauthorized)
}

// grantError: ErrBadGrant is the client's invalid_grant; anything else
// means that Redis did not answer.
func (s *opServer) grantError(ctx context.Context, what string, err error) error {
	if errors.Is(err, ErrBadGrant) {
		return oidc.ErrInvalidGrant().WithDescription("invalid %s", what).WithParent(err)
	}
	s.p.storage.log.ErrorContext(ctx, "token endpoint: cannot check the "+what, "err", err)
	return errUnavailable()
}

// issueError: the library's and storage's OAuth errors go to the client
// as they are; any other failure to issue the tokens is Redis not
// answering.
func (s *opServer) issueError(ctx context.Context, err error) error {
	var oe *oidc.Error
	if errors.As(err, &oe) {
		return err
	}
	s.p.storage.log.ErrorContext(ctx, "token endpoint: cannot issue the tokens", "err", err)
	return errUnavailable()
}

// tokenIDAndSubject reads an access token: an opaque one is decrypted, a
// JWT one verified. It does not say whether the token was revoked.
func (p *Provider) tokenIDAndSubject(ctx context.Context, token string) (string, string, bool) {
	if plain, err := p.op.Crypto().Decrypt(token); err == nil {
		id, sub, ok := strings.Cut(plain, ":")
		return id, sub, ok && !strings.Contains(sub, ":")
	}
	claims, err := op.VerifyAccessToken[*oidc.AccessTokenClaims](ctx, token, p.op.AccessTokenVerifier(ctx))
	if err != nil {
		return "", "", false
	}
	return claims.JWTID, claims.Subject, true
}
