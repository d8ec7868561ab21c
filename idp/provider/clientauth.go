package provider

import (
	"context"
	"errors"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/region-nouvelle-aquitaine/idp/idp/store"
)

// Credentials are what a request to the token, introspection or
// revocation endpoint presented to authenticate its client.
type Credentials struct {
	ID, Secret string
	// SecretSent: a secret was presented (Basic, or client_secret in the
	// form), even an empty one.
	SecretSent bool
}

// ErrClientAuth: the client is unknown, or did not prove who it is.
var ErrClientAuth = errors.New("client authentication failed")

// AuthenticateClient is the one rule of client authentication: a
// confidential client presents its secret (client_secret_basic or
// client_secret_post), a public client its id only (PKCE then proves the
// rest at the token endpoint). A public client presenting a secret is
// refused: it has none.
func (p *Provider) AuthenticateClient(c Credentials) (*Client, error) {
	cl, ok := p.clients[c.ID]
	switch {
	case !ok:
		return nil, ErrClientAuth
	case cl.Public && !c.SecretSent:
		return cl, nil
	case cl.Public || !cl.secretMatches(c.Secret):
		return nil, ErrClientAuth
	}
	return cl, nil
}

// ErrBadGrant: the code or refresh token is unknown, spent, expired, or
// not bound to this client (and, for a code, its redirect URI and PKCE
// verifier), or its sign-in session has ended.
var ErrBadGrant = errors.New("invalid grant")

// RedeemCode spends code for the authenticated client and returns its
// sign-in. The code must have been issued to that client for redirectURI,
// verifier must match its PKCE challenge, and its session must still
// exist; the code is spent only once the binding holds, so that a
// stranger presenting it leaves it to its owner. A code presented again
// revokes what it was exchanged for only when it comes with the proof of
// the client that redeemed it (its credentials, and its verifier); anyone
// else who learnt a spent code cannot end the owner's tokens with it.
// Unless the sign-in asked for offline access (a refresh token, issued by
// the library's call to CreateAccessAndRefreshTokens), its access token is
// saved in the round trip that spends the code: the request returned then
// carries it for CreateAccessToken.
// Errors other than ErrBadGrant mean that Redis did not answer.
func (p *Provider) RedeemCode(ctx context.Context, clientID, code, verifier, redirectURI string) (authRequest, error) {
	st := p.storage.store
	cs, err := st.PeekCode(ctx, code)
	if errors.Is(err, store.ErrNotFound) {
		return authRequest{}, errors.Join(ErrBadGrant, err)
	}
	if err != nil {
		return authRequest{}, err
	}
	if cs.Used {
		g, err := st.Grant(ctx, cs.AuthRequestRef)
		switch {
		case err == nil && g.ClientID == clientID && pkceMatches(g.CodeChallenge, g.CodeChallengeMethod, verifier):
			p.replayed(ctx, cs.AuthRequestRef, clientID, verifier)
		case errors.Is(err, store.ErrNotFound):
			// Its redemption may still be writing the tokens. Only the
			// code's own client with its verifier may set off the
			// revocation: checked against the request, kept until the code
			// expires.
			if ar, err := st.AuthRequestByRef(ctx, cs.AuthRequestRef); err == nil &&
				ar.ClientID == clientID && pkceMatches(ar.CodeChallenge, ar.CodeChallengeMethod, verifier) {
				p.replayed(ctx, cs.AuthRequestRef, clientID, verifier)
			}
		case err != nil:
			p.storage.log.ErrorContext(ctx, "cannot read the grant of a replayed code", "err", err)
		}
		return authRequest{}, errors.Join(ErrBadGrant, store.ErrCodeReplayed)
	}
	ar := cs.AuthRequest
	if ar == nil {
		// A code minted before its record kept the request.
		if ar, err = st.AuthRequestByRef(ctx, cs.AuthRequestRef); errors.Is(err, store.ErrNotFound) {
			return authRequest{}, errors.Join(ErrBadGrant, err)
		} else if err != nil {
			return authRequest{}, err
		}
	}
	if ar.ClientID != clientID || ar.RedirectURI != redirectURI || !pkceMatches(ar.CodeChallenge, ar.CodeChallengeMethod, verifier) {
		return authRequest{}, ErrBadGrant
	}
	// The peek above is not the spending: of two redemptions at once,
	// exactly one consumes the code. The other one was bound to the same
	// client and verifier, so it is the owner's replay.
	// The session the sign-in went through is read in the same round trip:
	// its end must not be undone by a code redeemed afterwards.
	redeemed := authRequest{AuthRequest: ar}
	var issue *store.Issued
	if ar.Subject != "" && !slices.Contains(ar.Scopes, oidc.ScopeOfflineAccess) {
		at := p.storage.newAccessToken(redeemed, "")
		issue = &store.Issued{AccessToken: at, AuthRequestRef: cs.AuthRequestRef, Grant: p.storage.grantOf(redeemed, at.ID, "")}
	}
	switch _, err := st.ConsumeCodeFor(ctx, code, ar.SessionID, ar.Subject, issue); {
	case errors.Is(err, store.ErrCodeReplayed):
		p.replayed(ctx, cs.AuthRequestRef, clientID, verifier)
		return authRequest{}, errors.Join(ErrBadGrant, err)
	case errors.Is(err, store.ErrNotFound):
		return authRequest{}, errors.Join(ErrBadGrant, err)
	case errors.Is(err, store.ErrSessionEnded):
		return authRequest{}, errors.Join(ErrBadGrant, errSessionEnded)
	case err != nil:
		return authRequest{}, err
	}
	// The request is not deleted: it expires with its code (codeMinted).
	if issue != nil {
		redeemed.issued = issue.AccessToken
	}
	return redeemed, nil
}

// replayed answers a code presented again by its own client with its
// verifier (the caller checked both): what it gave is revoked
// (RFC 6749 §4.1.2). When its redemption has not recorded the tokens yet
// (with offline_access they are written after the code is spent), a mark
// tells that redemption to revoke them itself (storage.grant), if the
// replay came with the code's own client and verifier.
func (p *Provider) replayed(ctx context.Context, ref, clientID, verifier string) {
	p.storage.log.WarnContext(ctx, "authorization code replayed: revoking the tokens issued from it")
	st := p.storage.store
	marked, err := st.MarkReplayed(ctx, ref, clientID, codeProof(verifier), p.storage.grantExpiry())
	if err == nil && !marked {
		err = st.RevokeGrant(ctx, ref)
	}
	if err != nil {
		p.storage.log.ErrorContext(ctx, "cannot revoke the tokens of a replayed code", "err", err)
	}
}

// codeProof is what a replay's mark keeps of its verifier: its S256,
// which is the code's challenge when the verifier is right, and no secret.
func codeProof(verifier string) string {
	if verifier == "" {
		return ""
	}
	return oidc.NewSHACodeChallenge(verifier)
}

// proofMatches reports whether a replay's proof (codeProof) is that of the
// verifier the code's challenge asks for.
func proofMatches(proof, challenge, method string) bool {
	switch {
	case challenge == "":
		return proof == ""
	case method == string(oidc.CodeChallengeMethodS256):
		return proof == challenge
	default: // plain: the challenge is the verifier
		return proof == oidc.NewSHACodeChallenge(challenge)
	}
}

// refreshFamilyOf returns the family of a refresh token, without rotating
// the token or taking it for reuse, once it is known to be the
// authenticated client's: reuse revokes the whole family, and only the
// client that holds it may set that off, not another one that learnt an
// old token. Errors other than ErrBadGrant mean that Redis did not answer.
func (p *Provider) refreshFamilyOf(ctx context.Context, clientID, token string) (*store.RefreshToken, error) {
	rt, err := p.storage.refreshFamily(ctx, token)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, errors.Join(ErrBadGrant, err)
	case err != nil:
		return nil, err
	case rt.ClientID != clientID:
		return nil, ErrBadGrant
	}
	return rt, nil
}

// pkceMatches: without a challenge no verifier may come (a downgrade),
// with one the verifier must match it.
func pkceMatches(challenge, method, verifier string) bool {
	if challenge == "" {
		return verifier == ""
	}
	return verifier != "" && oidc.VerifyCodeChallenge(&oidc.CodeChallenge{Challenge: challenge, Method: oidc.CodeChallengeMethod(method)}, verifier)
}
