package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// ResetFlow is one « Mot de passe perdu » journey, from the profile choice
// to the new password. Its id travels in a SameSite=Strict cookie of the
// browser that started it. Codes and link tokens are stored only as keyed
// hashes (SEC-16); the typed address is kept to send a new code without
// asking for it again (A11Y-11).
type ResetFlow struct {
	ID            string    `json:"id"`
	AuthRequestID string    `json:"auth_request_id,omitempty"` // the pending sign-in to return to
	Email         string    `json:"email,omitempty"`           // as typed (a lookup key only)
	CreatedAt     time.Time `json:"created_at,omitzero"`
	ExpiresAt     time.Time `json:"expires_at"`

	// Set off the request path when the address matched one account:
	// Subject is the person's sub; Login and Mail (the directory's
	// address) are how the directory writer finds them.
	Subject string `json:"subject,omitempty"`
	Login   string `json:"login,omitempty"`
	Mail    string `json:"mail,omitempty"`
	// CodeHash and LinkHash are HMACs of the current code and link token.
	CodeHash      string    `json:"code_hash,omitempty"`
	LinkHash      string    `json:"link_hash,omitempty"`
	CodeExpiresAt time.Time `json:"code_expires_at,omitzero"`
	CodeTries     int       `json:"code_tries,omitempty"`
	CodesSent     int       `json:"codes_sent,omitempty"`

	// Verified is set once the code or the link was accepted.
	Verified bool `json:"verified,omitempty"`
	// OtherBrowser: verified through the link in a browser that did not
	// start the flow, which must never resume the pending sign-in.
	OtherBrowser bool `json:"other_browser,omitempty"`

	// JobID is the password change queued for ldapsync (step 5); Changed
	// is set once the directory confirmed it. NotChangedIn names the
	// services (their labels) that still hold the old password when the
	// change reached only some of them.
	JobID        string   `json:"job_id,omitempty"`
	Changed      bool     `json:"changed,omitempty"`
	NotChangedIn []string `json:"not_changed_in,omitempty"`

	// Purpose says why the person sets a new password: "" after a lost
	// password, else one of the Purpose constants (the current password
	// was checked instead of a code).
	Purpose string `json:"purpose,omitempty"`
	// KeepSession is the SSO session a change was made from: it survives
	// the revocation that follows.
	KeepSession string `json:"keep_session,omitempty"`
}

// Why a verified flow did not start with a code.
const (
	PurposeChange     = "change"      // signed in, from the landing page
	PurposeMustChange = "must_change" // at sign-in, after an administrator's reset
	PurposeExpired    = "expired"     // at sign-in or signed in, the password has expired
)

// linkRecord is what a link key holds; only the token's hash is in the key.
type linkRecord struct {
	FlowID    string    `json:"flow_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *Store) resetFlowKey(id string) string   { return s.prefix + "reset:" + id }
func (s *Store) resetLinkKey(hash string) string { return s.prefix + "resetlink:" + hash }

// SaveResetFlow stores (or overwrites) a flow until its ExpiresAt.
func (s *Store) SaveResetFlow(ctx context.Context, f *ResetFlow) error {
	if err := checkRecord("reset flow", f.ID, f.ExpiresAt); err != nil {
		return err
	}
	return s.putJSON(ctx, s.c, s.resetFlowKey(f.ID), f, f.ExpiresAt)
}

// ResetFlow loads a flow; missing or expired is ErrNotFound.
func (s *Store) ResetFlow(ctx context.Context, id string) (*ResetFlow, error) {
	f := new(ResetFlow)
	if err := getJSON(ctx, s.c, s.resetFlowKey(id), f); err != nil {
		return nil, err
	}
	if s.expired(f.ExpiresAt) {
		return nil, ErrNotFound
	}
	return f, nil
}

// UpdateResetFlow applies fn atomically (WATCH/MULTI on the flow's key):
// concurrent code submissions cannot both use the last try.
func (s *Store) UpdateResetFlow(ctx context.Context, id string, fn func(*ResetFlow) error) error {
	return updateJSON(ctx, s, s.resetFlowKey(id), id,
		func(f *ResetFlow) time.Time { return f.ExpiresAt },
		func(f *ResetFlow) string { return f.ID }, fn)
}

// DeleteResetFlow removes a flow (idempotent).
func (s *Store) DeleteResetFlow(ctx context.Context, id string) error {
	return s.del(ctx, "reset flow", s.resetFlowKey(id))
}

// SaveResetLink maps a link token's hash to its flow until expiresAt.
func (s *Store) SaveResetLink(ctx context.Context, hash, flowID string, expiresAt time.Time) error {
	if err := checkRecord("reset link", flowID, expiresAt); err != nil {
		return err
	}
	return s.putJSON(ctx, s.c, s.resetLinkKey(hash), linkRecord{FlowID: flowID, ExpiresAt: expiresAt}, expiresAt)
}

// ResetLink returns the flow a link token's hash belongs to, without
// consuming it: a GET of the link (a mail scanner) must not use it up.
func (s *Store) ResetLink(ctx context.Context, hash string) (string, error) {
	var rec linkRecord
	if err := getJSON(ctx, s.c, s.resetLinkKey(hash), &rec); err != nil {
		return "", err
	}
	if s.expired(rec.ExpiresAt) {
		return "", ErrNotFound
	}
	return rec.FlowID, nil
}

// ConsumeResetLink returns the flow of a link token's hash and deletes the
// mapping in the same step (GETDEL): the link works once.
func (s *Store) ConsumeResetLink(ctx context.Context, hash string) (string, error) {
	b, err := s.c.GetDel(ctx, s.resetLinkKey(hash)).Bytes()
	if errors.Is(err, redis.Nil) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("store: consume reset link: %w", err)
	}
	var rec linkRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return "", fmt.Errorf("store: decode reset link: %w", err)
	}
	if s.expired(rec.ExpiresAt) {
		return "", ErrNotFound
	}
	return rec.FlowID, nil
}

// DeleteResetLink forgets a link token (a new code replaces it).
func (s *Store) DeleteResetLink(ctx context.Context, hash string) error {
	return s.del(ctx, "reset link", s.resetLinkKey(hash))
}
