package login

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/connector"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
)

// SessionStore keeps SSO sessions.
type SessionStore interface {
	SaveSession(ctx context.Context, s *store.Session) error
	Session(ctx context.Context, id string) (*store.Session, error)
	UpdateSession(ctx context.Context, id string, fn func(*store.Session) error) error
	DeleteSession(ctx context.Context, id string) error
	KeepRetired(ctx context.Context, sess *store.Session, until time.Time) error
	RetiredSession(ctx context.Context, id string) (*store.Retired, error)
	RefreshFamiliesOf(ctx context.Context, subject string) ([]string, error)
	RefreshFamily(ctx context.Context, familyID string) (*store.RefreshToken, error)
	RevokeRefreshFamily(ctx context.Context, familyID string) error
	RevokedSince(ctx context.Context, subject string, t time.Time) (bool, error)
	MoveSessionFamilies(ctx context.Context, subject, from, to string) error
	SessionsOf(ctx context.Context, subject string) ([]string, error)
	SessionByRef(ctx context.Context, ref string) (*store.Session, error)
	DeleteSessionByRef(ctx context.Context, ref string) error
}

// SessionConfig configures Sessions.
type SessionConfig struct {
	Store SessionStore
	// CookieName; "__Host-" names need Secure.
	CookieName string
	Secure     bool
	// Lifetime is absolute; IdleTimeout ends a session nobody used.
	Lifetime    time.Duration
	IdleTimeout time.Duration
	Now         func() time.Time
	Log         *slog.Logger
	// Ended, when set, is told of a session that ended because another
	// person signed in in its browser (back-channel logout).
	Ended func(ctx context.Context, sess *store.Session)
}

// Sessions is the SSO session: a record in the store and an HttpOnly
// cookie holding its id.
type Sessions struct{ cfg SessionConfig }

// NewSessions returns Sessions.
func NewSessions(cfg SessionConfig) *Sessions {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Sessions{cfg: cfg}
}

// Start opens a new session for id, replacing any the browser had (a
// fresh id at every sign-in), saves it and sets its cookie. authTime is
// when the check began (the password check), or when the upstream says
// the person authenticated there: a revocation of the person's sessions
// after it ends this one too. The session's subject is Subject(id); its
// amr is the source's, or ["fed"] for an upstream that gave none.
func (s *Sessions) Start(w http.ResponseWriter, r *http.Request, id connector.Identity, authTime time.Time, clientID string) (*store.Session, error) {
	sess, prev := s.Open(r, id, authTime, clientID)
	if err := s.cfg.Store.SaveSession(r.Context(), sess); err != nil {
		return nil, fmt.Errorf("save session: %w", err)
	}
	s.Replaced(r.Context(), prev, sess)
	s.SetCookie(w, sess)
	return sess, nil
}

// Open is Start without the save and the cookie: the caller saves the
// session with the sign-in's code, in one round trip (provider CodeURL),
// calls Replaced, then sets its cookie (SetCookie), so that the id of a
// session not fully written never reaches the browser. prev is the
// browser's session until then, or nil: when it is the same person's,
// the new one takes over its sites.
//
// A cookie naming a session that another tab's sign-in has just replaced
// (two sign-ins at once) gives a prev with no ID: what Replaced kept of it
// (KeepRetired). The new session then still belongs to its lineage, so
// that the end of either one reaches the other (EndSiblings).
func (s *Sessions) Open(r *http.Request, id connector.Identity, authTime time.Time, clientID string) (sess, prev *store.Session) {
	prev, ok := s.Current(r)
	if !ok {
		prev = s.retired(r)
	}
	sess = s.open(id, authTime, clientID)
	if prev != nil && prev.Subject == sess.Subject {
		// The site being signed in to stays the latest.
		sess.Clients = append(slices.DeleteFunc(slices.Clone(prev.Clients), func(c string) bool { return c == clientID }), clientID)
		sess.Earlier = append(slices.Clone(prev.Earlier), prev.Ref)
		if n := len(sess.Earlier); n > maxEarlier {
			sess.Earlier = sess.Earlier[n-maxEarlier:]
		}
	}
	return sess, prev
}

// retired returns what is kept of the browser's session if another tab's
// sign-in replaced it a moment ago, as a session with no ID; else nil.
func (s *Sessions) retired(r *http.Request) *store.Session {
	c, err := r.Cookie(s.cfg.CookieName)
	if err != nil || c.Value == "" {
		return nil
	}
	ret, err := s.cfg.Store.RetiredSession(r.Context(), c.Value)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.cfg.Log.WarnContext(r.Context(), "retired session lookup failed", "err", err)
		}
		return nil
	}
	return &store.Session{Ref: ret.Ref, Subject: ret.Subject, Earlier: ret.Earlier}
}

// retiredFor is how long a replaced session's lineage is kept: far longer
// than a sign-in's request takes (its directory and Redis calls each time
// out within seconds), so the sign-in of another tab that sent the old
// cookie before the new one arrived finds it.
const retiredFor = time.Minute

// maxEarlier bounds Session.Earlier: a person typing the password again
// and again in one browser within a session's lifetime.
const maxEarlier = 8

// Replaced ends prev, the browser's session that the saved session sess
// replaces. The same person's sites carry on with sess: their refresh
// tokens move to it, and it ends them all. Another person's sites are
// signed out (back-channel logout), as at a logout, with the first
// person's other sessions of this browser (EndSiblings): on a shared
// computer the next person must not find the first one signed in. A
// failure is logged, never shown: the person is signed in.
func (s *Sessions) Replaced(ctx context.Context, prev, sess *store.Session) {
	if prev == nil {
		return
	}
	if prev.ID == "" {
		// Replaced already, by another tab's sign-in (Open): only its
		// lineage is left, and with it the session that replaced it.
		if prev.Subject != sess.Subject {
			_, _ = s.EndSiblings(ctx, prev) // logged
		}
		return
	}
	var err error
	if prev.Subject == sess.Subject {
		err = s.cfg.Store.MoveSessionFamilies(ctx, sess.Subject, prev.Ref, sess.Ref)
	} else {
		_, err = RevokeSessionFamilies(ctx, s.cfg.Store, prev.Subject, prev.Ref)
	}
	if err == nil {
		// What a late tab needs first, then the end itself: in this order
		// it finds one or the other. Without that record only such a tab
		// is left out, so its failure does not stop the end.
		if kerr := s.cfg.Store.KeepRetired(ctx, prev, s.cfg.Now().Add(retiredFor)); kerr != nil {
			s.cfg.Log.WarnContext(ctx, "could not keep the replaced session's lineage", "err", kerr)
		}
		err = s.cfg.Store.DeleteSession(ctx, prev.ID)
	}
	if err != nil {
		s.cfg.Log.WarnContext(ctx, "could not end the previous session", "err", err)
		return
	}
	if prev.Subject == sess.Subject {
		return
	}
	// Another person: the first one's sessions of this browser end with
	// it, as at a logout, those of two sign-ins at once included.
	if s.cfg.Ended != nil {
		s.cfg.Ended(ctx, prev)
	}
	_, _ = s.EndSiblings(ctx, prev) // logged
}

func (s *Sessions) open(id connector.Identity, authTime time.Time, clientID string) *store.Session {
	amr := slices.Clone(id.AMR)
	if len(amr) == 0 {
		amr = []string{amrFederated}
	}
	now := s.cfg.Now()
	sid := store.NewID()
	sess := &store.Session{
		ID:      sid,
		Ref:     store.Ref(sid),
		Subject: Subject(id),
		Claims: store.Claims{
			Email:             id.Email,
			EmailVerified:     id.EmailVerified,
			Name:              id.Name,
			GivenName:         id.GivenName,
			FamilyName:        id.FamilyName,
			PreferredUsername: id.PreferredUsername,
			IDP:               id.Source,
		},
		AMR:      amr,
		AuthTime: authTime,
		// The site being signed in to, written with the session rather
		// than added by a second write.
		Clients:   []string{clientID},
		CreatedAt: now,
		LastSeen:  now,
		ExpiresAt: now.Add(s.cfg.Lifetime),
	}
	if id.IDToken != "" {
		if err := sess.SetUpstreamIDToken(id.IDToken); err != nil {
			// Only the logout at the upstream is lost.
			s.cfg.Log.Warn("could not keep the upstream's ID token", "err", err)
		}
	}
	return sess
}

// revokedSince reports whether the person's sessions were all ended
// after t.
func (s *Sessions) revokedSince(ctx context.Context, subject string, t time.Time) (bool, error) {
	return s.cfg.Store.RevokedSince(ctx, subject, t)
}

// SetCookie gives the browser the saved session sess.
func (s *Sessions) SetCookie(w http.ResponseWriter, sess *store.Session) {
	http.SetCookie(w, &http.Cookie{
		Name: s.cfg.CookieName, Value: sess.ID, Path: "/",
		HttpOnly: true, Secure: s.cfg.Secure,
		// Lax: the session must be seen on the top-level redirect from a
		// relying party.
		SameSite: http.SameSiteLaxMode,
	})
}

// touchEvery bounds how often a session in use is written back: the idle
// timeout is measured to the minute, and most requests only read.
const touchEvery = time.Minute

// errIdle: the session was left unused longer than IdleTimeout.
var errIdle = errors.New("session idle")

// Current returns the browser's live session, if any, and records that it
// was used. The record is touched only while it still exists, in one
// optimistic update: a request that read the session just before it was
// ended (logout, revocation after a new password) cannot write it back.
func (s *Sessions) Current(r *http.Request) (*store.Session, bool) {
	sess, ok := s.ToEnd(r)
	if !ok {
		return nil, false
	}
	ctx := r.Context()
	now := s.cfg.Now()
	if s.idle(sess, now) {
		s.endIdle(ctx, sess.ID)
		return nil, false
	}
	if now.Sub(sess.LastSeen) < touchEvery {
		return sess, true
	}
	err := s.cfg.Store.UpdateSession(ctx, sess.ID, func(cur *store.Session) error {
		if s.idle(cur, now) {
			return errIdle
		}
		if now.After(cur.LastSeen) { // concurrent touches: never move back
			cur.LastSeen = now
		}
		return nil
	})
	switch {
	case err == nil, errors.Is(err, store.ErrConflict):
		// Conflict: other writers kept changing it, so it still exists.
		sess.LastSeen = now
		return sess, true
	case errors.Is(err, errIdle):
		s.endIdle(ctx, sess.ID)
		return nil, false
	case errors.Is(err, store.ErrNotFound):
		return nil, false
	default:
		s.cfg.Log.WarnContext(ctx, "session touch failed", "err", err)
		return sess, true
	}
}

// ToEnd is the browser's session for a logout: as Current, but a session
// past its idle timeout still counts, so that it ends as any other does
// (its sites told, its tokens revoked, its upstream signed out of), and
// is not touched. Current starts from it.
func (s *Sessions) ToEnd(r *http.Request) (*store.Session, bool) {
	c, err := r.Cookie(s.cfg.CookieName)
	if err != nil || c.Value == "" {
		return nil, false
	}
	sess, err := s.cfg.Store.Session(r.Context(), c.Value)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.cfg.Log.WarnContext(r.Context(), "session lookup failed", "err", err)
		}
		return nil, false
	}
	return sess, true
}

// endIdle deletes a session found idle, so that a request in flight that
// read it a moment earlier cannot keep it alive.
func (s *Sessions) endIdle(ctx context.Context, id string) {
	if err := s.cfg.Store.DeleteSession(ctx, id); err != nil {
		s.cfg.Log.WarnContext(ctx, "could not delete an idle session", "err", err)
	}
}

func (s *Sessions) idle(sess *store.Session, now time.Time) bool {
	return s.cfg.IdleTimeout > 0 && now.Sub(sess.LastSeen) > s.cfg.IdleTimeout
}

// AddClient records that the session signed the person in to clientID:
// logout and revocation need to know which sites were involved.
func (s *Sessions) AddClient(ctx context.Context, id, clientID string) {
	err := s.cfg.Store.UpdateSession(ctx, id, func(sess *store.Session) error {
		if !slices.Contains(sess.Clients, clientID) {
			sess.Clients = append(sess.Clients, clientID)
		}
		return nil
	})
	if err != nil {
		s.cfg.Log.WarnContext(ctx, "cannot record the session's client", "err", err)
	}
}

// End ends the browser's session: the record, the refresh tokens obtained
// through it and the cookie.
func (s *Sessions) End(w http.ResponseWriter, r *http.Request, sess *store.Session) error {
	ctx := r.Context()
	if _, err := RevokeSessionFamilies(ctx, s.cfg.Store, sess.Subject, sess.Ref); err != nil {
		return err
	}
	if err := s.cfg.Store.DeleteSession(ctx, sess.ID); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	s.clearCookie(w)
	return nil
}

// EndSiblings ends the person's other live sessions of sess's lineage
// (those whose Earlier names sess or one of sess's Earlier), as End does
// (refresh tokens, record), tells their sites (Ended), and returns those it
// ended. Why: two sign-ins at once in one browser (two tabs, prompt=login)
// both replace its session P; both new sessions name P in Earlier, one of
// them takes P's refresh tokens, and the browser keeps the cookie of only
// one. The other has no browser left, yet its sites' refresh tokens keep
// working through it: a logout in that browser must end it as well, and
// so must the end of P for another person who signs in with P's cookie. A
// shared entry means the same browser's lineage; the person's sessions in
// other browsers have none in common and are left alone. It goes on past
// a failure, logs, and returns them all, joined: the browser's own session
// is ended either way.
func (s *Sessions) EndSiblings(ctx context.Context, sess *store.Session) (ended []*store.Session, err error) {
	defer func() {
		if err != nil {
			s.cfg.Log.WarnContext(ctx, "could not end a session of the same browser", "err", err)
		}
	}()
	lineage := append(slices.Clone(sess.Earlier), sess.Ref)
	refs, err := s.cfg.Store.SessionsOf(ctx, sess.Subject)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	var errs []error
	for _, ref := range refs {
		if ref == sess.Ref {
			continue
		}
		sib, err := s.cfg.Store.SessionByRef(ctx, ref)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("read session: %w", err))
			continue
		}
		if sib.Subject != sess.Subject || !slices.ContainsFunc(sib.Earlier, func(e string) bool { return slices.Contains(lineage, e) }) {
			continue
		}
		if _, err := RevokeSessionFamilies(ctx, s.cfg.Store, sib.Subject, sib.Ref); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := s.cfg.Store.DeleteSessionByRef(ctx, sib.Ref); err != nil {
			errs = append(errs, fmt.Errorf("delete session: %w", err))
			continue
		}
		if s.cfg.Ended != nil {
			s.cfg.Ended(ctx, sib)
		}
		ended = append(ended, sib)
	}
	return ended, errors.Join(errs...)
}

func (s *Sessions) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: s.cfg.CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.cfg.Secure, SameSite: http.SameSiteLaxMode,
	})
}
