package store

import (
	"context"
	"time"
)

// Claims are the identity claims captured at login and replayed into tokens.
type Claims struct {
	Email             string `json:"email,omitempty"`
	EmailVerified     bool   `json:"email_verified,omitempty"`
	Name              string `json:"name,omitempty"`
	GivenName         string `json:"given_name,omitempty"`
	FamilyName        string `json:"family_name,omitempty"`
	PreferredUsername string `json:"preferred_username,omitempty"`
}

// Session is a browser SSO session (the id travels in an HttpOnly cookie).
type Session struct {
	ID        string    `json:"id"`
	Subject   string    `json:"subject,omitempty"`
	Claims    Claims    `json:"claims,omitzero"`
	AMR       []string  `json:"amr,omitempty"`
	AuthTime  time.Time `json:"auth_time,omitzero"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
	ExpiresAt time.Time `json:"expires_at"`
	Clients   []string  `json:"clients,omitempty"` // relying parties signed in through this session
}

// SaveSession stores (or overwrites) a session until s.ExpiresAt and indexes it
// under its subject. The index is written first: a crash in between leaves a
// stale index member (pruned later), never a session RevokeSubject cannot find.
func (s *Store) SaveSession(ctx context.Context, sess *Session) error {
	if err := checkRecord("session", sess.ID, sess.ExpiresAt); err != nil {
		return err
	}
	if err := s.index(ctx, sess.Subject, memberSession, sess.ID, sess.ExpiresAt); err != nil {
		return err
	}
	return s.putJSON(ctx, s.c, s.sessionKey(sess.ID), sess, sess.ExpiresAt)
}

// Session loads a session; missing or expired is ErrNotFound.
func (s *Store) Session(ctx context.Context, id string) (*Session, error) {
	sess := new(Session)
	if err := getJSON(ctx, s.c, s.sessionKey(id), sess); err != nil {
		return nil, err
	}
	if s.expired(sess.ExpiresAt) {
		return nil, ErrNotFound
	}
	return sess, nil
}

// UpdateSession applies fn atomically (same contract as UpdateAuthRequest), so
// concurrent logins through one session do not lose each other's Clients.
// fn must not change ID; a changed Subject is put back (the index depends on it).
// When fn extends ExpiresAt, the index is stretched first, as in SaveSession.
func (s *Store) UpdateSession(ctx context.Context, id string, fn func(*Session) error) error {
	var indexed time.Time
	return updateJSON(ctx, s, s.sessionKey(id), id,
		func(v *Session) time.Time { return v.ExpiresAt },
		func(v *Session) string { return v.ID },
		func(v *Session) error {
			subject, before := v.Subject, v.ExpiresAt
			if err := fn(v); err != nil {
				return err
			}
			v.Subject = subject
			if exp := v.ExpiresAt; exp.After(before) && exp.After(indexed) {
				return &outsideTx{run: func(ctx context.Context) error {
					if err := s.index(ctx, subject, memberSession, id, exp); err != nil {
						return err
					}
					indexed = exp
					return nil
				}}
			}
			return nil
		})
}

// DeleteSession removes a session; missing is not an error. Its index member
// becomes stale and is pruned by the next read.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return s.del(ctx, "session", s.sessionKey(id))
}
