package store

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/seal"
)

// Claims are the identity claims captured at login and replayed into tokens.
type Claims struct {
	Email             string `json:"email,omitempty"`
	EmailVerified     bool   `json:"email_verified,omitempty"`
	Name              string `json:"name,omitempty"`
	GivenName         string `json:"given_name,omitempty"`
	FamilyName        string `json:"family_name,omitempty"`
	PreferredUsername string `json:"preferred_username,omitempty"`
	// IDP is the source that vouched for the person: "annuaire" (the
	// directory) or an upstreams[].id. Released to every site, whatever
	// the scopes, like amr.
	IDP string `json:"idp,omitempty"`
}

// Session is a browser SSO session.
type Session struct {
	// ID is the value of the HttpOnly cookie. It is never stored: the
	// record lives under Ref, filled by every read and by SaveSession.
	ID string `json:"-"`
	// Ref = Ref(ID) names the session in other records (auth requests,
	// refresh families, the per-person index, KeepSessionFor) and in
	// comparisons between them.
	Ref       string    `json:"-"`
	Subject   string    `json:"subject,omitempty"`
	Claims    Claims    `json:"claims,omitzero"`
	AMR       []string  `json:"amr,omitempty"`
	AuthTime  time.Time `json:"auth_time,omitzero"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
	ExpiresAt time.Time `json:"expires_at"`
	Clients   []string  `json:"clients,omitempty"` // relying parties signed in through this session
	// Earlier are the Refs of the same person's sessions this one replaced
	// in the browser (the password typed again): the sid of ID tokens some
	// of its Clients still hold, named again when it ends.
	Earlier []string `json:"earlier,omitempty"`
	// UpstreamLogout is the ID token of the upstream provider the person
	// signed in with (an élu or agent), sealed under ID: sent back there
	// as id_token_hint at logout. Only the browser's cookie opens it, so
	// a copy of Redis does not give it (SetUpstreamIDToken,
	// UpstreamIDToken).
	UpstreamLogout []byte `json:"upstream_logout,omitempty"`
}

func upstreamTokenSealer(id string) (*seal.Sealer, error) {
	sl, err := seal.Derive([]byte(id), "idp session: upstream ID token")
	if err != nil {
		return nil, fmt.Errorf("store: session key: %w", err)
	}
	return sl, nil
}

// SetUpstreamIDToken keeps tok sealed in the session (which must have its
// ID), to be saved with it.
func (s *Session) SetUpstreamIDToken(tok string) error {
	sl, err := upstreamTokenSealer(s.ID)
	if err != nil {
		return err
	}
	s.UpstreamLogout = sl.Seal(nil, []byte(tok), []byte(Ref(s.ID)))
	return nil
}

// UpstreamIDToken opens what SetUpstreamIDToken kept: "" when there is
// none, or when the session was loaded by its Ref (no ID).
func (s *Session) UpstreamIDToken() (string, error) {
	if len(s.UpstreamLogout) == 0 || s.ID == "" {
		return "", nil
	}
	sl, err := upstreamTokenSealer(s.ID)
	if err != nil {
		return "", err
	}
	tok, err := sl.Open(s.UpstreamLogout, []byte(Ref(s.ID)))
	if err != nil {
		return "", fmt.Errorf("store: session's upstream ID token: %w", err)
	}
	return string(tok), nil
}

// SaveSession stores (or overwrites) a session until s.ExpiresAt, sets
// sess.Ref and indexes it under its subject, in one round trip (see
// indexedPut).
func (s *Store) SaveSession(ctx context.Context, sess *Session) error {
	if err := checkRecord("session", sess.ID, sess.ExpiresAt); err != nil {
		return err
	}
	sess.Ref = Ref(sess.ID)
	return s.indexedPut(ctx, sess.Subject, memberSession, sess.Ref, s.sessionKey(sess.Ref), sess, sess.ExpiresAt)
}

// Session loads the session of a cookie value; missing or expired is ErrNotFound.
func (s *Store) Session(ctx context.Context, id string) (*Session, error) {
	sess := new(Session)
	if err := getJSON(ctx, s.c, s.sessionKey(Ref(id)), sess); err != nil {
		return nil, err
	}
	sess.ID, sess.Ref = id, Ref(id)
	return s.liveSession(ctx, sess)
}

// SessionByRef loads a session by its Ref (what other records keep), with
// an empty ID; missing or expired is ErrNotFound.
func (s *Store) SessionByRef(ctx context.Context, ref string) (*Session, error) {
	if !isRef(ref) {
		return nil, ErrNotFound
	}
	sess := new(Session)
	if err := getJSON(ctx, s.c, s.sessionKey(ref), sess); err != nil {
		return nil, err
	}
	sess.Ref = ref
	return s.liveSession(ctx, sess)
}

// liveSession returns sess unless it is expired or its sign-in predates
// the person's last revocation (ErrNotFound).
func (s *Store) liveSession(ctx context.Context, sess *Session) (*Session, error) {
	if s.expired(sess.ExpiresAt) {
		return nil, ErrNotFound
	}
	if old, err := s.revoked(ctx, sess.Subject, sess.AuthTime, sess.Ref); err != nil || old {
		return nil, cmp.Or(err, ErrNotFound)
	}
	return sess, nil
}

// UpdateSession applies fn atomically (same contract as UpdateAuthRequest), so
// concurrent logins through one session do not lose each other's Clients,
// and a session deleted meanwhile is never written back (ErrNotFound).
// fn must not change ID; a changed Subject is put back (the index depends on it).
// When fn extends ExpiresAt, the index is stretched first, as in SaveSession.
func (s *Store) UpdateSession(ctx context.Context, id string, fn func(*Session) error) error {
	ref := Ref(id)
	var indexed time.Time
	return updateJSON(ctx, s, s.sessionKey(ref), id,
		func(v *Session) time.Time { return v.ExpiresAt },
		func(v *Session) string { return v.ID },
		func(v *Session) error { v.ID, v.Ref = id, ref; return nil },
		func(v *Session) error {
			subject, before := v.Subject, v.ExpiresAt
			if err := fn(v); err != nil {
				return err
			}
			v.Subject, v.Ref = subject, ref
			if exp := v.ExpiresAt; exp.After(before) && exp.After(indexed) {
				return &outsideTx{run: func(ctx context.Context) error {
					if err := s.index(ctx, subject, memberSession, ref, exp); err != nil {
						return err
					}
					indexed = exp
					return nil
				}}
			}
			return nil
		})
}

// TouchSessionByRef records that the session whose Ref is ref was used at
// now (a refresh token obtained through it was), unless it was deleted
// meanwhile (ErrNotFound).
func (s *Store) TouchSessionByRef(ctx context.Context, ref string, now time.Time) error {
	if !isRef(ref) {
		return ErrNotFound
	}
	return updateJSON(ctx, s, s.sessionKey(ref), "",
		func(v *Session) time.Time { return v.ExpiresAt },
		func(v *Session) string { return v.ID },
		func(v *Session) error { v.Ref = ref; return nil },
		func(v *Session) error {
			if now.After(v.LastSeen) { // concurrent touches: never move back
				v.LastSeen = now
			}
			return nil
		})
}

// DeleteSession removes the session of a cookie value; missing is not an
// error. Its index member becomes stale and is pruned by the next read.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return s.del(ctx, "session", s.sessionKey(Ref(id)))
}

// Retired is what is kept, for a short while, of a session that another
// one replaced in its browser (KeepRetired).
type Retired struct {
	// Ref is the replaced session's.
	Ref       string    `json:"-"`
	Subject   string    `json:"subject"`
	Earlier   []string  `json:"earlier,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
}

// KeepRetired keeps until until what a request still carrying the cookie
// of sess, which another session replaces in its browser, needs to know
// of it once it is deleted (RetiredSession).
func (s *Store) KeepRetired(ctx context.Context, sess *Session, until time.Time) error {
	if err := checkRecord("session", sess.ID, until); err != nil {
		return err
	}
	r := Retired{Subject: sess.Subject, Earlier: sess.Earlier, ExpiresAt: until}
	if err := s.putJSON(ctx, s.c, s.retiredKey(Ref(sess.ID)), r, until); err != nil {
		return fmt.Errorf("store: keep retired session: %w", err)
	}
	return nil
}

// RetiredSession returns what KeepRetired kept of the session of a
// cookie value; none, or past its time, is ErrNotFound.
func (s *Store) RetiredSession(ctx context.Context, id string) (*Retired, error) {
	r := new(Retired)
	if err := getJSON(ctx, s.c, s.retiredKey(Ref(id)), r); err != nil {
		return nil, err
	}
	if s.expired(r.ExpiresAt) {
		return nil, ErrNotFound
	}
	r.Ref = Ref(id)
	return r, nil
}
