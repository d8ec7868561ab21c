package provider

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/region-nouvelle-aquitaine/idp/idp/binding"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
)

// Store is what the provider needs from idp/store.
type Store interface {
	keyStore
	SaveAuthRequest(ctx context.Context, ar *store.AuthRequest) error
	SaveAuthRequestAdmitted(ctx context.Context, ar *store.AuthRequest, a store.Admission) (bool, time.Time, error)
	AuthRequest(ctx context.Context, id string) (*store.AuthRequest, error)
	AuthRequestByRef(ctx context.Context, ref string) (*store.AuthRequest, error)
	UpdateAuthRequest(ctx context.Context, id string, fn func(*store.AuthRequest) error) error
	UpdateLoadedAuthRequest(ctx context.Context, ar *store.AuthRequest, fn func(*store.AuthRequest) error) (*store.AuthRequest, error)
	DeleteAuthRequest(ctx context.Context, id string) error
	DeleteAuthRequestByRef(ctx context.Context, ref string) error
	SaveCodeFor(ctx context.Context, code string, ar *store.AuthRequest, expiresAt, rememberUntil time.Time) error
	CompleteWithCode(ctx context.Context, loaded, done *store.AuthRequest, code string, expiresAt, rememberUntil time.Time, open *store.Session, forget ...string) (bool, error)
	ConsumeCodeFor(ctx context.Context, code, sessionRef, subject string, issue *store.Issued) (string, error)
	PeekCode(ctx context.Context, code string) (store.CodeState, error)
	Grant(ctx context.Context, authRequestRef string) (*store.Grant, error)
	SaveGrant(ctx context.Context, authRequestRef string, g store.Grant) error
	SaveGrantFirst(ctx context.Context, authRequestRef string, g store.Grant) (*store.Grant, error)
	MarkReplayed(ctx context.Context, authRequestRef, clientID, proof string, exp time.Time) (bool, error)
	RevokeGrant(ctx context.Context, authRequestRef string) error
	SessionByRef(ctx context.Context, ref string) (*store.Session, error)
	TouchSessionByRef(ctx context.Context, ref string, now time.Time) error
	SaveAccessToken(ctx context.Context, at *store.AccessToken) error
	SaveAccessTokenFor(ctx context.Context, at *store.AccessToken, authRequestRef string, g store.Grant) error
	AccessToken(ctx context.Context, id string) (*store.AccessToken, error)
	DeleteAccessToken(ctx context.Context, id string) error
	CreateRefreshToken(ctx context.Context, rt *store.RefreshToken) (string, error)
	RefreshToken(ctx context.Context, token string) (*store.RefreshToken, error)
	RotateRefreshToken(ctx context.Context, oldToken string) (string, *store.RefreshToken, error)
	RevokeRefreshFamily(ctx context.Context, familyID string) error
	RefreshFamilyOf(token string) (string, bool)
	RefreshFamily(ctx context.Context, familyID string) (*store.RefreshToken, error)
	Ping(ctx context.Context) error
}

// Lifetimes of what the provider issues.
type Lifetimes struct {
	AuthRequest  time.Duration
	Code         time.Duration
	AccessToken  time.Duration
	IDToken      time.Duration
	RefreshToken time.Duration
	// SessionIdle is the sign-in session's idle timeout: a refresh token
	// works only while the session it came through is in use, and each
	// refresh counts as a use. 0: refresh tokens are not idle-bound.
	SessionIdle time.Duration
}

// storage implements op.Storage over Store.
type storage struct {
	store   Store
	clients map[string]*opClient
	life    Lifetimes
	now     func() time.Time
	keys    *Keyring
	log     *slog.Logger
}

var (
	_ op.Storage                   = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest = (*storage)(nil)
)

func (s *storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, hintSubject string) (op.AuthRequest, error) {
	if err := s.checkAuthRequest(req); err != nil {
		return nil, err
	}
	browser, ok := binding.FromContext(ctx)
	if !ok {
		// Never a sign-in that no browser can continue, or any can.
		s.log.ErrorContext(ctx, "auth request without a browser binding")
		return nil, oidc.ErrServerError()
	}
	now := s.now()
	ar := &store.AuthRequest{
		ID:                  store.NewID(),
		ClientID:            req.ClientID,
		RedirectURI:         req.RedirectURI,
		State:               req.State,
		Nonce:               req.Nonce,
		ResponseType:        string(req.ResponseType),
		ResponseMode:        string(req.ResponseMode),
		CodeChallenge:       req.CodeChallenge,
		CodeChallengeMethod: string(req.CodeChallengeMethod),
		LoginHint:           req.LoginHint,
		IDTokenHintSubject:  hintSubject,
		Scopes:              req.Scopes,
		Prompt:              req.Prompt,
		MaxAge:              req.MaxAge,
		CreatedAt:           now,
		ExpiresAt:           now.Add(s.life.AuthRequest),
		BrowserHash:         binding.Hash(browser),
		IDPHint:             IDPHintFromContext(ctx),
	}
	for _, l := range req.UILocales {
		ar.UILocales = append(ar.UILocales, l.String())
	}
	if a, ok := ctx.Value(admissionKey{}).(*Admission); ok {
		allowed, retryAt, err := s.store.SaveAuthRequestAdmitted(ctx, ar, a.Admission)
		if err != nil {
			s.log.ErrorContext(ctx, "cannot save auth request", "err", err)
			return nil, errTemporarilyUnavailable
		}
		if !allowed {
			a.Refused, a.RetryAt = true, retryAt
			return nil, errTooManyRequests
		}
		created(ctx, ar)
		return authRequest{AuthRequest: ar}, nil
	}
	if err := s.store.SaveAuthRequest(ctx, ar); err != nil {
		s.log.ErrorContext(ctx, "cannot save auth request", "err", err)
		return nil, errTemporarilyUnavailable
	}
	created(ctx, ar)
	return authRequest{AuthRequest: ar}, nil
}

// createdKey carries the *Created of WithCreated.
type createdKey struct{}

// Created receives the sign-in CreateAuthRequest stored, so that the
// login screen can be served in the answer to the authorization request
// itself, without reading back what was just written.
type Created struct{ Request *store.AuthRequest }

// WithCreated makes CreateAuthRequest hand the stored sign-in to c.
func WithCreated(ctx context.Context, c *Created) context.Context {
	return context.WithValue(ctx, createdKey{}, c)
}

func created(ctx context.Context, ar *store.AuthRequest) {
	if c, ok := ctx.Value(createdKey{}).(*Created); ok {
		c.Request = ar
	}
}

// admissionKey carries the *Admission of WithAdmission.
type admissionKey struct{}

// Admission is a counter that the sign-ins stored for one client (an
// address) must each get a place in; once CreateAuthRequest ran, Refused
// says whether it had none, and RetryAt when one frees up.
type Admission struct {
	store.Admission
	Refused bool
	RetryAt time.Time
}

// WithAdmission makes the sign-in stored during ctx count against a, in
// the same round trip as its record. When a refuses, nothing is stored,
// a.Refused is set and the library answers errTooManyRequests, which the
// caller replaces with its own page.
func WithAdmission(ctx context.Context, a *Admission) context.Context {
	return context.WithValue(ctx, admissionKey{}, a)
}

// errTooManyRequests: the client's address asked for too many sign-ins
// (WithAdmission).
var errTooManyRequests = &oidc.Error{
	ErrorType:   "temporarily_unavailable",
	Description: "too many authorization requests from this address",
}

// errTemporarilyUnavailable tells the relying party to try again later
// (RFC 6749 §4.1.2.1) when Redis cannot be reached.
var errTemporarilyUnavailable = &oidc.Error{
	ErrorType:   "temporarily_unavailable",
	Description: "the authorization server cannot store the request right now",
}

// checkAuthRequest adds what the library leaves to storage: only OpenID
// Connect requests, and PKCE with S256 only, required for public clients
// .
func (s *storage) checkAuthRequest(req *oidc.AuthRequest) error {
	if err := checkLengths(req); err != nil {
		return err
	}
	if !slices.Contains(req.Scopes, oidc.ScopeOpenID) {
		return oidc.ErrInvalidScope().WithDescription("the openid scope is required")
	}
	if req.CodeChallenge != "" && req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	}
	if c, ok := s.clients[req.ClientID]; ok && c.Public && req.CodeChallenge == "" {
		return oidc.ErrInvalidRequest().WithDescription("PKCE (code_challenge with S256) is required for public clients")
	}
	return nil
}

func (s *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	ar, err := s.authRequest(ctx, id)
	if err != nil {
		return nil, err
	}
	return authRequest{AuthRequest: ar}, nil
}

// authRequest is the auth request of id, as this HTTP request already
// read it (WithLoaded) or from Redis.
func (s *storage) authRequest(ctx context.Context, id string) (*store.AuthRequest, error) {
	if ar, ok := ctx.Value(loadedKey{}).(store.AuthRequest); ok && ar.ID == id && s.now().Before(ar.ExpiresAt) {
		return &ar, nil
	}
	return s.store.AuthRequest(ctx, id)
}

// AuthRequestByCode is the library's own way to redeem a code, which
// spends it before checking who presents it: codes are redeemed by the
// opServer's CodeExchange (Provider.RedeemCode) instead, and this path
// refuses every code.
func (s *storage) AuthRequestByCode(context.Context, string) (op.AuthRequest, error) {
	return nil, errCodeElsewhere
}

var errCodeElsewhere = errors.New("codes are redeemed by the provider's CodeExchange")

// errSessionEnded refuses a code or a grant whose sign-in session ended
// (logout, or every session revoked after a new password) meanwhile.
var errSessionEnded = oidc.ErrInvalidGrant().WithDescription("the sign-in session has ended")

// sessionAlive returns the session a sign-in went through, which must
// still exist: its end must not be undone by a code redeemed afterwards.
// No ref (a sign-in without a session) is nil, nil.
func (s *storage) sessionAlive(ctx context.Context, ref string) (*store.Session, error) {
	if ref == "" {
		return nil, nil
	}
	sess, err := s.store.SessionByRef(ctx, ref)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, errSessionEnded
	case err != nil:
		return nil, fmt.Errorf("session of the grant: %w", err)
	}
	return sess, nil
}

// sessionInUse checks, at a refresh, that the session the family came
// through is alive and was not left unused past its idle timeout, and
// records the refresh as a use of it (as the session's browser would).
func (s *storage) sessionInUse(ctx context.Context, ref string) error {
	sess, err := s.sessionAlive(ctx, ref)
	if err != nil || sess == nil || s.life.SessionIdle <= 0 {
		return err
	}
	now := s.now()
	if now.Sub(sess.LastSeen) > s.life.SessionIdle {
		return errSessionEnded
	}
	if err := s.store.TouchSessionByRef(ctx, ref, now); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errSessionEnded
		}
		return fmt.Errorf("session of the refresh token: %w", err)
	}
	return nil
}

// SaveAuthCode mints the request's only code: the flag is set atomically
// with the check, so of two callbacks at once exactly one gets a code.
func (s *storage) SaveAuthCode(ctx context.Context, id, code string) error {
	if c, _ := ctx.Value(completingKey{}).(*completing); c != nil && c.done.ID == id {
		return s.saveCompleted(ctx, c, code)
	}
	known := &store.AuthRequest{ID: id}
	if ar, ok := ctx.Value(loadedKey{}).(store.AuthRequest); ok && ar.ID == id {
		known = &ar
	}
	done, err := s.store.UpdateLoadedAuthRequest(ctx, known, func(ar *store.AuthRequest) error {
		if ar.CodeIssued {
			return ErrCodeIssued
		}
		ar.CodeIssued = true
		s.codeMinted(ar)
		return nil
	})
	if err != nil {
		return s.unavailable(ctx, "cannot mark the code issued", err)
	}
	if !known.Done {
		// Completed by another request: the token endpoint reads it afresh.
		done = &store.AuthRequest{ID: id}
	}
	return s.saveCode(ctx, done, code)
}

// saveCompleted writes CodeURL's completion with the code; when the
// request changed since it was read, it completes it the long way first.
func (s *storage) saveCompleted(ctx context.Context, c *completing, code string) error {
	now := s.now()
	codeExp, remember := now.Add(s.life.Code), now.Add(max(s.life.RefreshToken, s.life.AccessToken))
	won, err := s.store.CompleteWithCode(ctx, c.loaded, c.done, code, codeExp, remember, c.open, c.forget...)
	if err != nil {
		return s.unavailable(ctx, "cannot complete the sign-in", err)
	}
	c.saved = c.open != nil
	if won {
		return nil
	}
	done, err := s.store.UpdateLoadedAuthRequest(ctx, &store.AuthRequest{ID: c.done.ID}, func(ar *store.AuthRequest) error {
		return s.apply(ar, c.who, true)
	})
	if err != nil {
		return s.unavailable(ctx, "cannot complete the sign-in", err)
	}
	return s.saveCode(ctx, done, code)
}

// codeMinted shortens the life of a request whose code is minted: the
// code's record keeps what the token endpoint needs, so the request is not
// deleted there, only left to expire with its code.
func (s *storage) codeMinted(ar *store.AuthRequest) {
	if t := s.now().Add(s.life.Code); t.Before(ar.ExpiresAt) {
		ar.ExpiresAt = t
	}
}

func (s *storage) saveCode(ctx context.Context, ar *store.AuthRequest, code string) error {
	now := s.now()
	// Remember the code as long as tokens issued from it may live.
	if err := s.store.SaveCodeFor(ctx, code, ar, now.Add(s.life.Code), now.Add(max(s.life.RefreshToken, s.life.AccessToken))); err != nil {
		return s.unavailable(ctx, "cannot save the code", err)
	}
	return nil
}

// unavailable turns a Redis failure into temporarily_unavailable at the
// site's redirect URI (a failover, say), instead of the library's
// server_error carrying the raw error text; what the store says of the
// request itself (not found, code already issued) passes through.
func (s *storage) unavailable(ctx context.Context, msg string, err error) error {
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, ErrCodeIssued) || errors.Is(err, ErrAlreadyDone) {
		return err
	}
	s.log.ErrorContext(ctx, msg, "err", err)
	return errTemporarilyUnavailable
}

// grant records what a code was exchanged for, to revoke it on replay.
func (s *storage) grant(ctx context.Context, req op.TokenRequest, accessTokenID, family string) error {
	ar, ok := req.(authRequest)
	if !ok {
		return nil
	}
	g := s.grantOf(ar, accessTokenID, family)
	mark, err := s.store.SaveGrantFirst(ctx, ar.Ref, g)
	if err != nil {
		return fmt.Errorf("save grant: %w", err)
	}
	if mark == nil {
		return nil
	}
	if mark.ReplayedBy != ar.ClientID || !proofMatches(mark.ReplayProof, ar.CodeChallenge, ar.CodeChallengeMethod) {
		// Not the code's own client and verifier: no replay of the owner's.
		return s.store.SaveGrant(ctx, ar.Ref, g)
	}
	// The code came again while these tokens were being issued.
	s.log.WarnContext(ctx, "authorization code replayed during its redemption: revoking the tokens issued from it")
	if err := errors.Join(s.store.DeleteAccessToken(ctx, accessTokenID), s.store.RevokeRefreshFamily(ctx, family)); err != nil {
		return err
	}
	return oidc.ErrInvalidGrant().WithDescription("the code was presented twice")
}

// grantExpiry is how long a grant is kept: as long as its tokens live.
func (s *storage) grantExpiry() time.Time {
	return s.now().Add(max(s.life.RefreshToken, s.life.AccessToken))
}

func (s *storage) grantOf(ar authRequest, accessTokenID, family string) store.Grant {
	return store.Grant{
		AccessTokenIDs: []string{accessTokenID},
		FamilyID:       family,
		ExpiresAt:      s.grantExpiry(),
		ClientID:       ar.ClientID, CodeChallenge: ar.CodeChallenge, CodeChallengeMethod: ar.CodeChallengeMethod,
	}
}

func (s *storage) DeleteAuthRequest(ctx context.Context, id string) error {
	if id == "" {
		return nil // a redeemed code's request, deleted with it
	}
	return s.store.DeleteAuthRequest(ctx, id)
}

func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	ar, fromCode := req.(authRequest)
	if fromCode && ar.issued != nil {
		return ar.issued.ID, ar.issued.ExpiresAt, nil
	}
	at := s.newAccessToken(req, "")
	var err error
	if fromCode {
		// From a code: the token and the code's grant in one round trip.
		err = s.store.SaveAccessTokenFor(ctx, at, ar.Ref, s.grantOf(ar, at.ID, ""))
	} else {
		err = s.store.SaveAccessToken(ctx, at)
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("save access token: %w", err)
	}
	return at.ID, at.ExpiresAt, nil
}

func (s *storage) accessToken(ctx context.Context, req op.TokenRequest, family string) (*store.AccessToken, error) {
	at := s.newAccessToken(req, family)
	if err := s.store.SaveAccessToken(ctx, at); err != nil {
		return nil, fmt.Errorf("save access token: %w", err)
	}
	return at, nil
}

func (s *storage) newAccessToken(req op.TokenRequest, family string) *store.AccessToken {
	now := s.now()
	at := &store.AccessToken{
		ID:            store.NewID(),
		Subject:       req.GetSubject(),
		Audience:      req.GetAudience(),
		Scopes:        req.GetScopes(),
		RefreshFamily: family,
		CreatedAt:     now,
		ExpiresAt:     now.Add(s.life.AccessToken),
	}
	if r, ok := req.(op.IDTokenRequest); ok {
		at.ClientID = r.GetClientID()
		at.AMR = r.GetAMR()
		at.AuthTime = r.GetAuthTime()
	}
	if r, ok := req.(withClaims); ok {
		at.Claims = r.claims()
	}
	return at
}

func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	var (
		token string
		rt    *store.RefreshToken
		err   error
	)
	if current == "" {
		ar, ok := req.(authRequest)
		if !ok {
			return "", "", time.Time{}, fmt.Errorf("refresh token for a %T", req)
		}
		now := s.now()
		// No longer than the session the sign-in went through, however
		// late the site obtained the token through it, and however old
		// an upstream's authentication it began with; without one, the
		// refresh lifetime after the authentication.
		exp := now.Add(s.life.RefreshToken)
		var sess *store.Session
		sess, err = s.sessionAlive(ctx, ar.SessionID)
		switch {
		case err != nil:
			return "", "", time.Time{}, err
		case sess != nil:
			exp = minTime(exp, sess.ExpiresAt)
		case !ar.AuthTime.IsZero():
			exp = minTime(exp, ar.AuthTime.Add(s.life.RefreshToken))
		}
		if !exp.After(now) {
			return "", "", time.Time{}, errSessionEnded
		}
		rt = &store.RefreshToken{
			ClientID:  ar.ClientID,
			Subject:   ar.Subject,
			Audience:  ar.GetAudience(),
			Scopes:    ar.Scopes,
			AMR:       ar.AMR,
			AuthTime:  ar.AuthTime,
			Claims:    ar.Claims,
			SessionID: ar.SessionID,
			CreatedAt: now,
			ExpiresAt: exp,
		}
		token, err = s.store.CreateRefreshToken(ctx, rt)
		if err == nil {
			// Checked again once the family is indexed: a revocation
			// that ran meanwhile either deleted it or left the session
			// gone, which this check sees.
			if _, serr := s.sessionAlive(ctx, rt.SessionID); serr != nil {
				if rerr := s.store.RevokeRefreshFamily(ctx, rt.FamilyID); rerr != nil {
					return "", "", time.Time{}, rerr
				}
				return "", "", time.Time{}, serr
			}
		}
	} else {
		// The library looked the token up a moment ago; rotation checks
		// again atomically, so a concurrent use of the same token loses.
		token, rt, err = s.store.RotateRefreshToken(ctx, current)
		switch {
		case errors.Is(err, store.ErrRefreshReused):
			s.log.WarnContext(ctx, "refresh token reused: family revoked")
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithParent(err)
		case errors.Is(err, store.ErrNotFound):
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithParent(err)
		case err != nil:
			return "", "", time.Time{}, fmt.Errorf("rotate refresh token: %w", err)
		}
		if serr := s.sessionInUse(ctx, rt.SessionID); serr != nil {
			if rerr := s.store.RevokeRefreshFamily(ctx, rt.FamilyID); rerr != nil {
				return "", "", time.Time{}, rerr
			}
			return "", "", time.Time{}, serr
		}
		if r, ok := req.(*refreshRequest); ok {
			rt.Scopes = r.Scopes
		}
	}
	if err != nil {
		return "", "", time.Time{}, fmt.Errorf("create refresh token: %w", err)
	}
	at, err := s.accessToken(ctx, &refreshRequest{RefreshToken: rt}, rt.FamilyID)
	if err != nil {
		return "", "", time.Time{}, err
	}
	if err := s.grant(ctx, req, at.ID, rt.FamilyID); err != nil {
		return "", "", time.Time{}, err
	}
	return at.ID, token, at.ExpiresAt, nil
}

func (s *storage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	rt, err := s.store.RefreshToken(ctx, token)
	if err != nil {
		if errors.Is(err, store.ErrRefreshReused) {
			s.log.WarnContext(ctx, "refresh token reused: family revoked")
		}
		return nil, oidc.ErrInvalidGrant().WithParent(err)
	}
	return &refreshRequest{RefreshToken: rt, token: token}, nil
}

// TerminateSession is replaced by the logout of the OIDC issue; the
// library only calls it from end_session.
func (s *storage) TerminateSession(context.Context, string, string) error { return nil }

// refreshFamily reads the family of a refresh token without using the
// token: no rotation, and no reuse detection, which revokes the family and
// must wait until the caller is known to be the family's client.
func (s *storage) refreshFamily(ctx context.Context, token string) (*store.RefreshToken, error) {
	family, ok := s.store.RefreshFamilyOf(token)
	if !ok {
		return nil, store.ErrNotFound
	}
	return s.store.RefreshFamily(ctx, family)
}

func (s *storage) RevokeToken(ctx context.Context, tokenOrID, _, clientID string) *oidc.Error {
	if family, ok := s.store.RefreshFamilyOf(tokenOrID); ok {
		switch f, err := s.refreshFamily(ctx, tokenOrID); {
		case errors.Is(err, store.ErrNotFound):
			return nil // unknown tokens are not an error (RFC 7009)
		case err != nil:
			return oidc.ErrServerError().WithParent(err)
		case f.ClientID != clientID:
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		if _, err := s.store.RefreshToken(ctx, tokenOrID); err != nil {
			return nil // unknown tokens are not an error (RFC 7009)
		}
		if err := s.store.RevokeRefreshFamily(ctx, family); err != nil {
			return oidc.ErrServerError().WithParent(err)
		}
		return nil
	}
	at, err := s.store.AccessToken(ctx, tokenOrID)
	if err != nil {
		return nil
	}
	if at.ClientID != clientID {
		return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
	}
	if err := s.store.DeleteAccessToken(ctx, at.ID); err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	return nil
}

func (s *storage) GetRefreshTokenInfo(ctx context.Context, clientID, token string) (string, string, error) {
	if f, err := s.refreshFamily(ctx, token); err != nil || f.ClientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	rt, err := s.store.RefreshToken(ctx, token)
	if err != nil || rt.ClientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return rt.Subject, token, nil
}

// SigningKey is asked for every token the library signs: the key ring
// answers from a cache of a few seconds, so a rotation by any replica is
// picked up by all without restart.
func (s *storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	ks, err := s.keys.current(ctx)
	if err != nil {
		return nil, err
	}
	return ks.current, nil
}

// SignatureAlgorithms are those of every published key: a token signed
// with a retired key of another algorithm still verifies.
func (s *storage) SignatureAlgorithms(ctx context.Context) ([]jose.SignatureAlgorithm, error) {
	ks, err := s.keys.current(ctx)
	if err != nil {
		return nil, err
	}
	return slices.Clone(ks.algs), nil
}

// KeySet is every key of the ring: next, current and retired.
func (s *storage) KeySet(ctx context.Context) ([]op.Key, error) {
	ks, err := s.keys.current(ctx)
	if err != nil {
		return nil, err
	}
	return slices.Clone(ks.published), nil
}

func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	c, ok := s.clients[id]
	if !ok {
		// invalid_client: the library would answer a bare error with 500.
		return nil, oidc.ErrInvalidClient().WithDescription("unknown client")
	}
	return c, nil
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	c, ok := s.clients[id]
	if !ok || !c.secretMatches(secret) {
		return oidc.ErrInvalidClient().WithDescription("client authentication failed")
	}
	return nil
}

// SetUserinfoFromScopes is deprecated in the library;
// SetUserinfoFromRequest does the work.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

func (s *storage) SetUserinfoFromRequest(_ context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	var c store.Claims
	var sid string
	if r, ok := req.(withClaims); ok {
		c, sid = r.claims(), r.sessionID()
	}
	setUserinfo(ui, req.GetSubject(), c, scopes)
	if sid != "" {
		// Only ID tokens go through here: sid names the session that a
		// logout token later ends (Back-Channel Logout).
		ui.AppendClaims(ClaimSID, sid)
	}
	return nil
}

// SetUserinfoFromToken answers /userinfo: the library only decrypted the
// token, so a revoked or expired one is refused here.
func (s *storage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, _ string) error {
	at, err := s.store.AccessToken(ctx, tokenID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ErrInvalidToken
	case err != nil:
		s.log.ErrorContext(ctx, "userinfo: cannot read the access token", "err", err)
		return oidc.ErrServerError()
	case at.Subject != subject:
		return ErrInvalidToken
	}
	setUserinfo(ui, at.Subject, at.Claims, at.Scopes)
	return nil
}

func (s *storage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	at, err := s.store.AccessToken(ctx, tokenID)
	if err != nil {
		return fmt.Errorf("access token: %w", err)
	}
	if at.Subject != subject || !slices.Contains(at.Audience, clientID) {
		return errors.New("token not introspectable by this client")
	}
	var ui oidc.UserInfo
	setUserinfo(&ui, at.Subject, at.Claims, at.Scopes)
	resp.SetUserInfo(&ui)
	resp.Scope = at.Scopes
	resp.ClientID = at.ClientID
	resp.Audience = at.Audience
	resp.Expiration = oidc.FromTime(at.ExpiresAt)
	resp.IssuedAt = oidc.FromTime(at.CreatedAt)
	resp.TokenType = oidc.BearerToken
	return nil
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("private_key_jwt is not supported")
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("the JWT profile grant is not supported")
}

func (s *storage) Health(ctx context.Context) error { return s.store.Ping(ctx) }

// ErrInvalidToken: an access token that is revoked, expired or not ours
// (RFC 6750 §3.1).
var ErrInvalidToken = &oidc.Error{ErrorType: "invalid_token", Description: "the access token is not valid"}

// scopedClaims keeps only the claims the requested scopes release: the
// request, and the tokens made from it, hold no other personal data.
func scopedClaims(c store.Claims, scopes []string) store.Claims {
	// The source is how the person signed in, like amr: every site gets it.
	out := store.Claims{IDP: c.IDP}
	if slices.Contains(scopes, oidc.ScopeEmail) {
		out.Email, out.EmailVerified = c.Email, c.EmailVerified
	}
	if slices.Contains(scopes, oidc.ScopeProfile) {
		out.Name, out.GivenName, out.FamilyName, out.PreferredUsername = c.Name, c.GivenName, c.FamilyName, c.PreferredUsername
	}
	return out
}

// setUserinfo fills the claims that the granted scopes allow.
func setUserinfo(ui *oidc.UserInfo, sub string, c store.Claims, scopes []string) {
	ui.Subject = sub
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeEmail:
			ui.Email = c.Email
			ui.EmailVerified = oidc.Bool(c.EmailVerified)
		case oidc.ScopeProfile:
			ui.Name = c.Name
			ui.GivenName = c.GivenName
			ui.FamilyName = c.FamilyName
			ui.PreferredUsername = c.PreferredUsername
		}
	}
	if c.IDP != "" {
		ui.AppendClaims(ClaimIDP, c.IDP)
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
