package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// AuthRequest is an OIDC authorization request between /authorize and the
// token exchange. The login UI fills the second group of fields.
type AuthRequest struct {
	ID                  string    `json:"id"`
	ClientID            string    `json:"client_id,omitempty"`
	RedirectURI         string    `json:"redirect_uri,omitempty"`
	State               string    `json:"state,omitempty"`
	Nonce               string    `json:"nonce,omitempty"`
	ResponseType        string    `json:"response_type,omitempty"`
	ResponseMode        string    `json:"response_mode,omitempty"`
	CodeChallenge       string    `json:"code_challenge,omitempty"`
	CodeChallengeMethod string    `json:"code_challenge_method,omitempty"`
	LoginHint           string    `json:"login_hint,omitempty"`
	IDTokenHintSubject  string    `json:"id_token_hint_subject,omitempty"`
	Scopes              []string  `json:"scopes,omitempty"`
	Prompt              []string  `json:"prompt,omitempty"`
	UILocales           []string  `json:"ui_locales,omitempty"`
	MaxAge              *uint     `json:"max_age,omitempty"` // nil = absent; 0 is meaningful (prompt=login)
	CreatedAt           time.Time `json:"created_at,omitzero"`
	ExpiresAt           time.Time `json:"expires_at"`

	Done      bool      `json:"done,omitempty"`
	Subject   string    `json:"subject,omitempty"`
	AuthTime  time.Time `json:"auth_time,omitzero"`
	AMR       []string  `json:"amr,omitempty"`
	Claims    Claims    `json:"claims,omitzero"`
	SessionID string    `json:"session_id,omitempty"`
}

// SaveAuthRequest stores (or overwrites) ar under ar.ID until ar.ExpiresAt.
func (s *Store) SaveAuthRequest(ctx context.Context, ar *AuthRequest) error {
	if err := checkRecord("auth request", ar.ID, ar.ExpiresAt); err != nil {
		return err
	}
	return s.putJSON(ctx, s.c, s.authRequestKey(ar.ID), ar, ar.ExpiresAt)
}

// AuthRequest loads an auth request; missing or expired is ErrNotFound.
func (s *Store) AuthRequest(ctx context.Context, id string) (*AuthRequest, error) {
	ar := new(AuthRequest)
	if err := getJSON(ctx, s.c, s.authRequestKey(id), ar); err != nil {
		return nil, err
	}
	if s.expired(ar.ExpiresAt) {
		return nil, ErrNotFound
	}
	return ar, nil
}

// UpdateAuthRequest applies fn atomically (WATCH/MULTI, retried; ErrConflict
// when it keeps losing). fn may run more than once; its error is returned as is
// and nothing is written. Missing or expired is ErrNotFound.
func (s *Store) UpdateAuthRequest(ctx context.Context, id string, fn func(*AuthRequest) error) error {
	return updateJSON(ctx, s, s.authRequestKey(id), id,
		func(ar *AuthRequest) time.Time { return ar.ExpiresAt },
		func(ar *AuthRequest) string { return ar.ID }, fn)
}

// DeleteAuthRequest removes an auth request; deleting a missing one is not an error.
func (s *Store) DeleteAuthRequest(ctx context.Context, id string) error {
	return s.del(ctx, "auth request", s.authRequestKey(id))
}

// SaveCode binds an authorization code to its auth request until expiresAt.
// The code's hash is remembered until rememberUntil, so that a second
// redemption is recognised as a replay rather than an unknown code.
func (s *Store) SaveCode(ctx context.Context, code, authRequestID string, expiresAt, rememberUntil time.Time) error {
	if code == "" {
		return errors.New("store: empty code")
	}
	if err := checkRecord("code for auth request", authRequestID, expiresAt); err != nil {
		return err
	}
	rememberUntil = laterOf(rememberUntil, expiresAt)
	key := s.codeKey(code)
	_, err := s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, "ar", authRequestID, "exp", ms(expiresAt), "keep", ms(rememberUntil))
		p.PExpire(ctx, key, s.ttl(rememberUntil))
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: save code: %w", err)
	}
	return nil
}

// consumeCode marks a code used in one step: of concurrent callers exactly
// one sees it unused. Returns {auth request id, expiry ms, already used}.
var consumeCode = redis.NewScript(`
local ar = redis.call('HGET', KEYS[1], 'ar')
if not ar then return false end
local exp = redis.call('HGET', KEYS[1], 'exp')
if redis.call('HSETNX', KEYS[1], 'used', '1') == 0 then return {ar, exp, 1} end
return {ar, exp, 0}
`)

// ConsumeCode returns the auth request id of code and marks the code used:
// of concurrent callers exactly one wins. An unknown or expired code is
// ErrNotFound; a code presented again is ErrCodeReplayed, returned with the
// auth request id so the caller can revoke what the first redemption got.
func (s *Store) ConsumeCode(ctx context.Context, code string) (string, error) {
	res, err := consumeCode.Run(ctx, s.c, []string{s.codeKey(code)}).Slice()
	if errors.Is(err, redis.Nil) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("store: consume code: %w", err)
	}
	if len(res) != 3 {
		return "", fmt.Errorf("store: consume code: unexpected reply %v", res)
	}
	ar, _ := res[0].(string)
	expMS, _ := strconv.ParseInt(fmt.Sprint(res[1]), 10, 64)
	if used, _ := res[2].(int64); used == 1 {
		return ar, ErrCodeReplayed
	}
	if s.expired(time.UnixMilli(expMS)) {
		return "", ErrNotFound
	}
	return ar, nil
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// CodeState is what PeekCode tells of a code.
type CodeState struct {
	AuthRequestID string
	// Used: the code was redeemed already; presenting it again is a replay.
	Used bool
}

// PeekCode looks a code up without using it, so that the token endpoint
// can check who presents it before the code is spent. An unknown code, or
// an unused one past its expiry, is ErrNotFound.
func (s *Store) PeekCode(ctx context.Context, code string) (CodeState, error) {
	v, err := s.c.HMGet(ctx, s.codeKey(code), "ar", "exp", "used").Result()
	if err != nil {
		return CodeState{}, fmt.Errorf("store: peek code: %w", err)
	}
	ar, _ := v[0].(string)
	if ar == "" {
		return CodeState{}, ErrNotFound
	}
	if used, _ := v[2].(string); used != "" {
		return CodeState{AuthRequestID: ar, Used: true}, nil
	}
	exp, _ := v[1].(string)
	expMS, _ := strconv.ParseInt(exp, 10, 64)
	if s.expired(time.UnixMilli(expMS)) {
		return CodeState{}, ErrNotFound
	}
	return CodeState{AuthRequestID: ar}, nil
}
