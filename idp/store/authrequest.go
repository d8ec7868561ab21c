package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// codeRecord is what a code key holds: only the SHA-256 of the code is in the key.
type codeRecord struct {
	AuthRequestID string    `json:"auth_request_id"`
	ExpiresAt     time.Time `json:"expires_at"`
}

// SaveCode binds an authorization code to its auth request until expiresAt.
func (s *Store) SaveCode(ctx context.Context, code, authRequestID string, expiresAt time.Time) error {
	if code == "" {
		return errors.New("store: empty code")
	}
	if err := checkRecord("code for auth request", authRequestID, expiresAt); err != nil {
		return err
	}
	return s.putJSON(ctx, s.c, s.codeKey(code), codeRecord{AuthRequestID: authRequestID, ExpiresAt: expiresAt}, expiresAt)
}

// ConsumeCode returns the auth request id of code and deletes the code in the
// same step (GETDEL): of concurrent callers exactly one wins, the others and
// every later call get ErrNotFound. An expired code is ErrNotFound (and gone).
func (s *Store) ConsumeCode(ctx context.Context, code string) (string, error) {
	b, err := s.c.GetDel(ctx, s.codeKey(code)).Bytes()
	if errors.Is(err, redis.Nil) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("store: consume code: %w", err)
	}
	var rec codeRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return "", fmt.Errorf("store: decode code: %w", err)
	}
	if s.expired(rec.ExpiresAt) {
		return "", ErrNotFound
	}
	return rec.AuthRequestID, nil
}
