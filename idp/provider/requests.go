package provider

import (
	"log/slog"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/region-nouvelle-aquitaine/idp/idp/store"
)

// authRequest is a stored auth request as the library sees it.
type authRequest struct {
	*store.AuthRequest
	// issued is the access token saved when its code was spent
	// (RedeemCode), for CreateAccessToken to hand out.
	issued *store.AccessToken
}

var (
	_ op.AuthRequest    = authRequest{}
	_ op.LogAuthRequest = authRequest{}
)

func (a authRequest) GetID() string          { return a.ID }
func (a authRequest) GetACR() string         { return "" }
func (a authRequest) GetAMR() []string       { return a.AMR }
func (a authRequest) GetAudience() []string  { return []string{a.ClientID} }
func (a authRequest) GetAuthTime() time.Time { return a.AuthTime }
func (a authRequest) GetClientID() string    { return a.ClientID }
func (a authRequest) GetNonce() string       { return a.Nonce }
func (a authRequest) GetRedirectURI() string { return a.RedirectURI }
func (a authRequest) GetScopes() []string    { return a.Scopes }
func (a authRequest) GetState() string       { return a.State }
func (a authRequest) GetSubject() string     { return a.Subject }
func (a authRequest) Done() bool             { return a.AuthRequest.Done }
func (a authRequest) claims() store.Claims   { return a.Claims }
func (a authRequest) sessionID() string      { return a.SessionID }
func (a authRequest) GetResponseType() oidc.ResponseType {
	return oidc.ResponseType(a.ResponseType)
}

func (a authRequest) GetResponseMode() oidc.ResponseMode {
	return oidc.ResponseMode(a.ResponseMode)
}

func (a authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{
		Challenge: a.CodeChallenge,
		Method:    oidc.CodeChallengeMethod(a.CodeChallengeMethod),
	}
}

// LogValue keeps secrets (state, nonce, challenge) out of the library's logs.
func (a authRequest) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("ref", a.Ref), // the id itself opens the sign-in

		slog.String("client_id", a.ClientID),
		slog.Any("scopes", a.Scopes),
	)
}

// refreshRequest is a refresh token's record as the library sees it.
type refreshRequest struct {
	*store.RefreshToken
	token string
}

var _ op.RefreshTokenRequest = (*refreshRequest)(nil)

func (r *refreshRequest) GetAMR() []string            { return r.AMR }
func (r *refreshRequest) GetAudience() []string       { return r.Audience }
func (r *refreshRequest) GetAuthTime() time.Time      { return r.AuthTime }
func (r *refreshRequest) GetClientID() string         { return r.ClientID }
func (r *refreshRequest) GetScopes() []string         { return r.Scopes }
func (r *refreshRequest) GetSubject() string          { return r.Subject }
func (r *refreshRequest) SetCurrentScopes(s []string) { r.Scopes = s }
func (r *refreshRequest) claims() store.Claims        { return r.Claims }
func (r *refreshRequest) sessionID() string           { return r.SessionID }

// withClaims is implemented by both request kinds: the person's claims
// were captured at sign-in and travel with the tokens.
type withClaims interface {
	claims() store.Claims
	sessionID() string
}
