package login_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/login"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestEndSiblingsOnlyTheSameBrowser: EndSiblings ends the person's
// sessions that replaced the same earlier one (two sign-ins at once in one
// browser), never the person's session in another browser, even one with
// its own earlier sessions, nor another person's.
func TestEndSiblingsOnlyTheSameBrowser(t *testing.T) {
	st, sessions, save := siblingsEnv(t)
	ctx := context.Background()
	p, q, r := store.Ref(store.NewID()), store.Ref(store.NewID()), store.Ref(store.NewID())
	kept := save(demoSubject, r, p)      // the browser's cookie
	sibling := save(demoSubject, p)      // the other tab's
	otherBrowser := save(demoSubject, q) // the person elsewhere
	fresh := save(demoSubject)           // the person elsewhere, first sign-in
	otherPerson := save("someone-else", p)

	ended, err := sessions.EndSiblings(ctx, kept)
	if err != nil {
		t.Fatal(err)
	}
	if len(ended) != 1 || ended[0].Ref != sibling.Ref {
		t.Fatalf("ended %d sessions, want the sibling alone", len(ended))
	}
	if _, err := st.SessionByRef(ctx, sibling.Ref); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the sibling is still there (err %v)", err)
	}
	for name, sess := range map[string]*store.Session{"kept": kept, "other browser": otherBrowser, "fresh": fresh, "other person": otherPerson} {
		if _, err := st.SessionByRef(ctx, sess.Ref); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if ended, err := sessions.EndSiblings(ctx, fresh); err != nil || len(ended) != 0 {
		t.Errorf("a session without earlier ones ended %d others (err %v)", len(ended), err)
	}
}

// TestEndSiblingsFromTheReplacedSession: the end of a session P for
// another person (or what is kept of P once replaced) reaches the
// sessions that replaced P, even when P had nothing earlier.
func TestEndSiblingsFromTheReplacedSession(t *testing.T) {
	st, sessions, save := siblingsEnv(t)
	ctx := context.Background()
	p := save(demoSubject)
	successor := save(demoSubject, p.Ref)
	elsewhere := save(demoSubject)
	if err := st.KeepRetired(ctx, p, p.LastSeen.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteSession(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	kept, err := st.RetiredSession(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	ended, err := sessions.EndSiblings(ctx, &store.Session{Ref: kept.Ref, Subject: kept.Subject, Earlier: kept.Earlier})
	if err != nil {
		t.Fatal(err)
	}
	if len(ended) != 1 || ended[0].Ref != successor.Ref {
		t.Fatalf("ended %d sessions, want P's successor alone", len(ended))
	}
	if _, err := st.SessionByRef(ctx, elsewhere.Ref); err != nil {
		t.Errorf("the person's session elsewhere: %v", err)
	}
}

// siblingsEnv is a store on miniredis, Sessions over it, and save, which
// stores a live session of subject with the given earlier refs.
func siblingsEnv(t *testing.T) (*store.Store, *login.Sessions, func(subject string, earlier ...string) *store.Session) {
	_, rdb := testenv.Miniredis(t)
	clock := testenv.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	st := store.New(store.Options{Client: rdb, Now: clock.Now})
	sessions := login.NewSessions(login.SessionConfig{
		Store: st, CookieName: "idp_session", Lifetime: 12 * time.Hour, IdleTimeout: 30 * time.Minute,
		Now: clock.Now, Log: slog.New(slog.DiscardHandler),
	})
	save := func(subject string, earlier ...string) *store.Session {
		t.Helper()
		now := clock.Now()
		sess := &store.Session{
			ID: store.NewID(), Subject: subject, Clients: []string{"site1"}, AuthTime: now,
			CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(12 * time.Hour), Earlier: earlier,
		}
		if err := st.SaveSession(t.Context(), sess); err != nil {
			t.Fatal(err)
		}
		return sess
	}
	return st, sessions, save
}

// failingRetire is a store whose record of replaced sessions cannot be
// written (Redis refusing writes at maxmemory still allows deletes).
type failingRetire struct{ *store.Store }

func (failingRetire) KeepRetired(context.Context, *store.Session, time.Time) error {
	return errors.New("OOM command not allowed when used memory > 'maxmemory'")
}

// TestReplacedWithoutItsRecord: when another person signs in over P and
// what is kept of P cannot be written, P's end still reaches its sites
// and the sessions that replaced it: that record only helps a late tab.
func TestReplacedWithoutItsRecord(t *testing.T) {
	st, _, save := siblingsEnv(t)
	var told []string
	sessions := login.NewSessions(login.SessionConfig{
		Store: failingRetire{st}, CookieName: "idp_session", Lifetime: 12 * time.Hour,
		Log:   slog.New(slog.DiscardHandler),
		Ended: func(_ context.Context, sess *store.Session) { told = append(told, sess.Ref) },
	})
	p := save(demoSubject)
	successor := save(demoSubject, p.Ref)
	next := save("someone-else")
	p, err := st.Session(t.Context(), p.ID) // as the browser's cookie reads it
	if err != nil {
		t.Fatal(err)
	}
	sessions.Replaced(t.Context(), p, next)
	if !slices.Contains(told, p.Ref) || !slices.Contains(told, successor.Ref) {
		t.Errorf("sites told of %d sessions, want P's and its successor's", len(told))
	}
	if _, err := st.SessionByRef(t.Context(), successor.Ref); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("P's successor survived (err %v)", err)
	}
}
