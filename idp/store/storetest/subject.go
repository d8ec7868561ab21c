package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/store"
)

func newSession(now time.Time, subject string, life time.Duration) *store.Session {
	return &store.Session{
		ID: store.NewID(), Subject: subject, Claims: jeanne, AMR: []string{"pwd"},
		AuthTime: now, CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(life), Clients: []string{"rp-1"},
	}
}

func saveSession(t *testing.T, e *env, subject string, life time.Duration) *store.Session {
	t.Helper()
	sess := newSession(e.clock.Now(), subject, life)
	noErr(t, "SaveSession", e.s.SaveSession(e.ctx, sess))
	return sess
}

func testSession(t *testing.T, e *env) {
	sess := saveSession(t, e, "sub-1", 8*time.Hour)
	got, err := e.s.Session(e.ctx, sess.ID)
	noErr(t, "Session", err)
	if !reflect.DeepEqual(got, sess) {
		t.Fatalf("round-trip:\n got %+v\nwant %+v", got, sess)
	}
	_, err = e.s.Session(e.ctx, store.NewID())
	wantErr(t, "unknown", err, store.ErrNotFound)
	// By Ref (how other records name it): found, without the cookie value;
	// the Ref is no cookie.
	byRef, err := e.s.SessionByRef(e.ctx, sess.Ref)
	noErr(t, "SessionByRef", err)
	if byRef.ID != "" || byRef.Ref != sess.Ref || byRef.Subject != sess.Subject {
		t.Fatalf("SessionByRef = %+v", byRef)
	}
	_, err = e.s.Session(e.ctx, sess.Ref)
	wantErr(t, "Session(Ref)", err, store.ErrNotFound)
	_, err = e.s.SessionByRef(e.ctx, sess.ID)
	wantErr(t, "SessionByRef(cookie value)", err, store.ErrNotFound)

	errVeto := errors.New("veto")
	wantErr(t, "UpdateSession fn error", e.s.UpdateSession(e.ctx, sess.ID, func(*store.Session) error { return errVeto }), errVeto)
	noErr(t, "UpdateSession", e.s.UpdateSession(e.ctx, sess.ID, func(s *store.Session) error {
		s.Subject = "someone-else" // ignored: the subject of a session never changes
		s.LastSeen = s.LastSeen.Add(time.Minute)
		return nil
	}))
	got, err = e.s.Session(e.ctx, sess.ID)
	noErr(t, "Session", err)
	if got.Subject != "sub-1" || !got.LastSeen.Equal(sess.LastSeen.Add(time.Minute)) {
		t.Fatalf("after update: Subject %q LastSeen %v", got.Subject, got.LastSeen)
	}
	// Touched by Ref (a refresh): LastSeen moves forward, never back.
	seen := got.LastSeen
	noErr(t, "TouchSessionByRef", e.s.TouchSessionByRef(e.ctx, sess.Ref, seen.Add(time.Minute)))
	noErr(t, "TouchSessionByRef earlier", e.s.TouchSessionByRef(e.ctx, sess.Ref, seen))
	got, err = e.s.Session(e.ctx, sess.ID)
	noErr(t, "Session", err)
	if !got.LastSeen.Equal(seen.Add(time.Minute)) || got.Subject != "sub-1" {
		t.Fatalf("after touches: %+v", got)
	}
	wantErr(t, "TouchSessionByRef(cookie value)", e.s.TouchSessionByRef(e.ctx, sess.ID, seen), store.ErrNotFound)

	e.clock.Advance(8 * time.Hour)
	_, err = e.s.Session(e.ctx, sess.ID)
	wantErr(t, "expired", err, store.ErrNotFound)
	wantErr(t, "update expired", e.s.UpdateSession(e.ctx, sess.ID, func(*store.Session) error { return nil }), store.ErrNotFound)

	sess = saveSession(t, e, "sub-1", time.Hour)
	noErr(t, "DeleteSession", e.s.DeleteSession(e.ctx, sess.ID))
	noErr(t, "DeleteSession again", e.s.DeleteSession(e.ctx, sess.ID))
	_, err = e.s.Session(e.ctx, sess.ID)
	wantErr(t, "deleted", err, store.ErrNotFound)
	wantErr(t, "TouchSessionByRef deleted", e.s.TouchSessionByRef(e.ctx, sess.Ref, e.clock.Now()), store.ErrNotFound)
}

func testUpdateSessionConcurrent(t *testing.T, e *env) {
	sess := saveSession(t, e, "sub-1", time.Hour)
	errs := parallel(10, func(i int) error {
		return e.s.UpdateSession(e.ctx, sess.ID, func(s *store.Session) error {
			s.Clients = append(s.Clients, fmt.Sprint("rp-x", i))
			return nil
		})
	})
	won := 1 // rp-1 was there already
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrConflict):
			t.Fatalf("update %d: %v", i, err)
		}
	}
	got, err := e.s.Session(e.ctx, sess.ID)
	noErr(t, "Session", err)
	if len(got.Clients) != won {
		t.Fatalf("lost update: %d clients, %d successful updates", len(got.Clients), won)
	}
}

func sorted(ids ...string) []string { return slices.Sorted(slices.Values(ids)) }

func testSubjectIndex(t *testing.T, e *env) {
	const anne, bob = "anne-{x}:y", "bob" // braces and colons in a subject must be harmless
	short := saveSession(t, e, anne, time.Hour)
	long := saveSession(t, e, anne, 8*time.Hour)
	gone := saveSession(t, e, anne, 8*time.Hour)
	bobs := saveSession(t, e, bob, 8*time.Hour)
	famA, _ := createFamily(t, e, anne) // 1h
	famB, _ := createFamily(t, e, anne)
	famBob, _ := createFamily(t, e, bob)
	noErr(t, "DeleteSession", e.s.DeleteSession(e.ctx, gone.ID))
	noErr(t, "RevokeRefreshFamily", e.s.RevokeRefreshFamily(e.ctx, famB.FamilyID))
	extended := saveSession(t, e, "carol", time.Hour)
	noErr(t, "UpdateSession extend", e.s.UpdateSession(e.ctx, extended.ID, func(s *store.Session) error {
		s.ExpiresAt = s.ExpiresAt.Add(2 * time.Hour)
		return nil
	}))

	check := func(when string, sub string, wantSessions, wantFamilies []string) {
		t.Helper()
		s, err := e.s.SessionsOf(e.ctx, sub)
		noErr(t, "SessionsOf", err)
		f, err := e.s.RefreshFamiliesOf(e.ctx, sub)
		noErr(t, "RefreshFamiliesOf", err)
		if !slices.Equal(s, wantSessions) || !slices.Equal(f, wantFamilies) {
			t.Fatalf("%s, %s: sessions %v families %v; want %v and %v", when, sub, s, f, wantSessions, wantFamilies)
		}
	}
	check("now", anne, sorted(short.Ref, long.Ref), []string{famA.FamilyID})
	check("now", bob, []string{bobs.Ref}, []string{famBob.FamilyID})
	check("now", "nobody", nil, nil)
	check("now", "", nil, nil)

	e.clock.Advance(time.Hour)
	check("after 1h", anne, []string{long.Ref}, nil)
	check("after 1h", "carol", []string{extended.Ref}, nil)

	// Shortening a session through an update takes it out of the listing on time.
	noErr(t, "UpdateSession", e.s.UpdateSession(e.ctx, long.ID, func(s *store.Session) error {
		s.ExpiresAt = e.clock.Now().Add(time.Minute)
		return nil
	}))
	e.clock.Advance(time.Minute)
	check("after shortening", anne, nil, nil)
}

func testRevokeSubject(t *testing.T, e *env) {
	type person struct {
		sessions []*store.Session
		tokens   []string // refresh tokens
		access   []string // access token ids, inside and outside families
	}
	build := func(sub string) person {
		var p person
		for range 2 {
			p.sessions = append(p.sessions, saveSession(t, e, sub, 8*time.Hour))
			rt, tok := createFamily(t, e, sub)
			p.tokens = append(p.tokens, tok)
			bound := newAccessToken(e.clock.Now(), sub, rt.FamilyID)
			free := newAccessToken(e.clock.Now(), sub, "")
			noErr(t, "SaveAccessToken", e.s.SaveAccessToken(e.ctx, bound))
			noErr(t, "SaveAccessToken", e.s.SaveAccessToken(e.ctx, free))
			p.access = append(p.access, bound.ID, free.ID)
		}
		return p
	}
	anne, bob := build("anne"), build("bob")

	noErr(t, "RevokeSubject", e.s.RevokeSubject(e.ctx, "anne", ""))
	noErr(t, "RevokeSubject again", e.s.RevokeSubject(e.ctx, "anne", ""))
	noErr(t, "RevokeSubject unknown", e.s.RevokeSubject(e.ctx, "nobody", ""))

	for _, tc := range []struct {
		who  string
		p    person
		want error
	}{{"anne", anne, store.ErrNotFound}, {"bob", bob, nil}} {
		for _, s := range tc.p.sessions {
			_, err := e.s.Session(e.ctx, s.ID)
			wantErr(t, tc.who+" session", err, tc.want)
		}
		for _, tok := range tc.p.tokens {
			_, err := e.s.RefreshToken(e.ctx, tok)
			wantErr(t, tc.who+" refresh token", err, tc.want)
		}
		for _, id := range tc.p.access {
			_, err := e.s.AccessToken(e.ctx, id)
			wantErr(t, tc.who+" access token", err, tc.want)
		}
	}
	if s, _ := e.s.SessionsOf(e.ctx, "anne"); len(s) != 0 {
		t.Fatalf("SessionsOf(anne) after revoke = %v", s)
	}
	if f, _ := e.s.RefreshFamiliesOf(e.ctx, "anne"); len(f) != 0 {
		t.Fatalf("RefreshFamiliesOf(anne) after revoke = %v", f)
	}
	if s, _ := e.s.SessionsOf(e.ctx, "bob"); len(s) != 2 {
		t.Fatalf("SessionsOf(bob) = %v, want 2 sessions", s)
	}
	if err := e.s.RevokeSubject(e.ctx, "", ""); err == nil {
		t.Fatal("RevokeSubject(\"\") succeeded")
	}
}

// A change made while signed in ends the person's other sessions and every
// refresh family, and keeps the session it was made from.
func testRevokeSubjectKeeping(t *testing.T, e *env) {
	here := saveSession(t, e, "anne", 8*time.Hour)
	other := saveSession(t, e, "anne", 8*time.Hour)
	_, tok := createFamily(t, e, "anne")

	exp := e.clock.Now().Add(15 * time.Minute)
	noErr(t, "KeepSessionFor", e.s.KeepSessionFor(e.ctx, "job-1", here.Ref, exp))
	kept, err := e.s.SessionKeptFor(e.ctx, "job-1")
	noErr(t, "SessionKeptFor", err)
	if kept != here.Ref {
		t.Fatalf("SessionKeptFor = %q, want the session recorded", kept)
	}
	if none, err := e.s.SessionKeptFor(e.ctx, "job-2"); err != nil || none != "" {
		t.Fatalf("SessionKeptFor(unknown job) = %q, %v; want \"\", nil", none, err)
	}
	if err := e.s.KeepSessionFor(e.ctx, "job-3", "", exp); err == nil {
		t.Fatal("KeepSessionFor without a session succeeded")
	}
	if err := e.s.KeepSessionFor(e.ctx, "job-3", here.ID, exp); err == nil {
		t.Fatal("KeepSessionFor accepted a cookie value instead of a Ref")
	}
	if err := e.s.RevokeSubject(e.ctx, "anne", here.ID); err == nil {
		t.Fatal("RevokeSubject accepted a cookie value as the session to keep")
	}

	noErr(t, "RevokeSubject", e.s.RevokeSubject(e.ctx, "anne", kept))
	_, err = e.s.Session(e.ctx, here.ID)
	wantErr(t, "kept session", err, nil)
	_, err = e.s.Session(e.ctx, other.ID)
	wantErr(t, "other session", err, store.ErrNotFound)
	_, err = e.s.RefreshToken(e.ctx, tok)
	wantErr(t, "refresh token", err, store.ErrNotFound)
	if s, _ := e.s.SessionsOf(e.ctx, "anne"); len(s) != 1 || s[0] != here.Ref {
		t.Fatalf("SessionsOf(anne) = %v, want only the kept session", s)
	}
	// Keeping again is harmless; without keeping, the last one goes too.
	noErr(t, "RevokeSubject again", e.s.RevokeSubject(e.ctx, "anne", kept))
	noErr(t, "RevokeSubject all", e.s.RevokeSubject(e.ctx, "anne", ""))
	_, err = e.s.Session(e.ctx, here.ID)
	wantErr(t, "kept session after a full revocation", err, store.ErrNotFound)
}

// A session or refresh family saved while RevokeSubject ran (its sign-in
// began before the revocation) is never found afterwards, except through
// the session the revocation kept; a later sign-in is unaffected.
func testRevokeSubjectNotBefore(t *testing.T, e *env) {
	signInBegan := e.clock.Now()
	here := saveSession(t, e, "anne", 8*time.Hour)
	e.clock.Advance(time.Second)
	noErr(t, "RevokeSubject", e.s.RevokeSubject(e.ctx, "anne", here.Ref))

	late := newSession(signInBegan, "anne", 8*time.Hour)
	noErr(t, "SaveSession", e.s.SaveSession(e.ctx, late))
	lateFam := newFamily(signInBegan, "anne")
	lateFam.SessionID = late.Ref
	lateTok, err := e.s.CreateRefreshToken(e.ctx, lateFam)
	noErr(t, "CreateRefreshToken", err)
	keptFam := newFamily(signInBegan, "anne")
	keptFam.SessionID = here.Ref
	keptTok, err := e.s.CreateRefreshToken(e.ctx, keptFam)
	noErr(t, "CreateRefreshToken", err)
	e.clock.Advance(time.Second)
	fresh := saveSession(t, e, "anne", 8*time.Hour)
	bob := newSession(signInBegan, "bob", 8*time.Hour)
	noErr(t, "SaveSession", e.s.SaveSession(e.ctx, bob))

	for _, tc := range []struct {
		name string
		sess *store.Session
		want error
	}{
		{"session saved during the revocation", late, store.ErrNotFound},
		{"kept session", here, nil},
		{"session signed in after the revocation", fresh, nil},
		{"another person's session", bob, nil},
	} {
		_, err := e.s.Session(e.ctx, tc.sess.ID)
		wantErr(t, tc.name, err, tc.want)
		_, err = e.s.SessionByRef(e.ctx, tc.sess.Ref)
		wantErr(t, tc.name+" by Ref", err, tc.want)
	}
	for _, tc := range []struct {
		name string
		fam  *store.RefreshToken
		tok  string
		want error
	}{
		{"refresh family created during the revocation", lateFam, lateTok, store.ErrNotFound},
		{"refresh family of the kept session", keptFam, keptTok, nil},
	} {
		_, err := e.s.RefreshFamily(e.ctx, tc.fam.FamilyID)
		wantErr(t, tc.name, err, tc.want)
		_, err = e.s.RefreshToken(e.ctx, tc.tok)
		wantErr(t, tc.name+" token", err, tc.want)
		_, _, err = e.s.RotateRefreshToken(e.ctx, tc.tok)
		wantErr(t, tc.name+" rotation", err, tc.want)
	}

	// A later revocation that keeps nothing ends the kept session too.
	e.clock.Advance(time.Second)
	noErr(t, "RevokeSubject all", e.s.RevokeSubject(e.ctx, "anne", ""))
	noErr(t, "SaveSession", e.s.SaveSession(e.ctx, here))
	_, err = e.s.Session(e.ctx, here.ID)
	wantErr(t, "kept session rewritten after a full revocation", err, store.ErrNotFound)
}

func testKeepRetired(t *testing.T, e *env) {
	sess := newSession(e.clock.Now(), "sub-1", 8*time.Hour)
	sess.Earlier = []string{store.Ref(store.NewID())}
	noErr(t, "SaveSession", e.s.SaveSession(e.ctx, sess))
	if err := e.s.KeepRetired(e.ctx, sess, time.Time{}); err == nil {
		t.Fatal("KeepRetired without a time: no error")
	}
	noErr(t, "KeepRetired", e.s.KeepRetired(e.ctx, sess, e.clock.Now().Add(time.Minute)))
	noErr(t, "DeleteSession", e.s.DeleteSession(e.ctx, sess.ID))
	got, err := e.s.RetiredSession(e.ctx, sess.ID)
	noErr(t, "RetiredSession", err)
	if got.Ref != sess.Ref || got.Subject != "sub-1" || !slices.Equal(got.Earlier, sess.Earlier) {
		t.Fatalf("RetiredSession = %+v, want ref %s, sub-1, earlier %v", got, sess.Ref, sess.Earlier)
	}
	_, err = e.s.RetiredSession(e.ctx, sess.Ref)
	wantErr(t, "RetiredSession(Ref)", err, store.ErrNotFound)
	_, err = e.s.RetiredSession(e.ctx, store.NewID())
	wantErr(t, "never retired", err, store.ErrNotFound)

	e.clock.Advance(time.Minute)
	_, err = e.s.RetiredSession(e.ctx, sess.ID)
	wantErr(t, "past its time", err, store.ErrNotFound)
}
