package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/redisbatch"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
)

func fullAuthRequest(now time.Time) *store.AuthRequest {
	zero := uint(0) // prompt=login: a present zero must survive the round-trip
	return &store.AuthRequest{
		ID: store.NewID(), ClientID: "rp-1", RedirectURI: "https://rp.example.org/cb",
		State: "st", Nonce: "n-0S6", ResponseType: "code", ResponseMode: "query",
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", CodeChallengeMethod: "S256",
		LoginHint: "jdupont", IDTokenHintSubject: "sub-1",
		Scopes: []string{"openid", "email"}, Prompt: []string{"login"}, UILocales: []string{"fr", "en"},
		MaxAge: &zero, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute),
	}
}

func testAuthRequest(t *testing.T, e *env) {
	ar := fullAuthRequest(e.clock.Now())
	noErr(t, "SaveAuthRequest", e.s.SaveAuthRequest(e.ctx, ar))
	got, err := e.s.AuthRequest(e.ctx, ar.ID)
	noErr(t, "AuthRequest", err)
	if !reflect.DeepEqual(got.Record(), ar.Record()) {
		t.Fatalf("round-trip:\n got %+v\nwant %+v", got, ar)
	}
	if got.MaxAge == nil || *got.MaxAge != 0 {
		t.Fatalf("MaxAge = %v, want pointer to 0", got.MaxAge)
	}

	_, err = e.s.AuthRequest(e.ctx, store.NewID())
	wantErr(t, "unknown id", err, store.ErrNotFound)

	noErr(t, "DeleteAuthRequest", e.s.DeleteAuthRequest(e.ctx, ar.ID))
	noErr(t, "DeleteAuthRequest again", e.s.DeleteAuthRequest(e.ctx, ar.ID))
	_, err = e.s.AuthRequest(e.ctx, ar.ID)
	wantErr(t, "after delete", err, store.ErrNotFound)

	for name, bad := range map[string]*store.AuthRequest{
		"no id":     {ExpiresAt: e.clock.Now().Add(time.Minute)},
		"no expiry": {ID: store.NewID()},
	} {
		if err := e.s.SaveAuthRequest(e.ctx, bad); err == nil {
			t.Errorf("SaveAuthRequest(%s) succeeded", name)
		}
	}
}

// testAuthRequestRider: a read of an auth request sends the rider its
// context carries (redisbatch.WithRider) along, once, whether the request
// is found or not, and answers as without it.
func testAuthRequestRider(t *testing.T, e *env) {
	ar := fullAuthRequest(e.clock.Now())
	noErr(t, "SaveAuthRequest", e.s.SaveAuthRequest(e.ctx, ar))
	for _, id := range []string{ar.ID, store.NewID()} {
		var rode []*redis.StringCmd
		ctx := redisbatch.WithRider(e.ctx, func(ctx context.Context, p redis.Pipeliner) {
			rode = append(rode, p.Echo(ctx, "rode"))
		})
		got, err := e.s.AuthRequest(ctx, id)
		if id == ar.ID {
			noErr(t, "AuthRequest", err)
			if !reflect.DeepEqual(got.Record(), ar.Record()) {
				t.Fatalf("with a rider:\n got %+v\nwant %+v", got, ar)
			}
		} else {
			wantErr(t, "unknown id, with a rider", err, store.ErrNotFound)
		}
		if len(rode) != 1 {
			t.Fatalf("the rider was called %d times, want once", len(rode))
		}
		if v, err := rode[0].Result(); err != nil || v != "rode" {
			t.Errorf("the rider's command answered %q, %v", v, err)
		}
	}
}

func testAuthRequestExpiry(t *testing.T, e *env) {
	ar := fullAuthRequest(e.clock.Now())
	noErr(t, "SaveAuthRequest", e.s.SaveAuthRequest(e.ctx, ar))
	e.clock.Advance(10*time.Minute - time.Millisecond)
	_, err := e.s.AuthRequest(e.ctx, ar.ID)
	noErr(t, "just before expiry", err)
	e.clock.Advance(time.Millisecond)
	_, err = e.s.AuthRequest(e.ctx, ar.ID)
	wantErr(t, "at expiry", err, store.ErrNotFound)
	err = e.s.UpdateAuthRequest(e.ctx, ar.ID, func(*store.AuthRequest) error { return nil })
	wantErr(t, "update expired", err, store.ErrNotFound)

	// Written already expired: accepted, but never readable.
	past := fullAuthRequest(e.clock.Now().Add(-time.Hour))
	noErr(t, "save expired", e.s.SaveAuthRequest(e.ctx, past))
	_, err = e.s.AuthRequest(e.ctx, past.ID)
	wantErr(t, "read expired-at-write", err, store.ErrNotFound)
}

func testUpdateAuthRequest(t *testing.T, e *env) {
	now := e.clock.Now()
	ar := fullAuthRequest(now)
	noErr(t, "SaveAuthRequest", e.s.SaveAuthRequest(e.ctx, ar))
	claims := store.Claims{Email: "jeanne.dupont@example.org", EmailVerified: true, Name: "Jeanne Dupont",
		GivenName: "Jeanne", FamilyName: "Dupont", PreferredUsername: "jdupont"}

	noErr(t, "complete", e.s.UpdateAuthRequest(e.ctx, ar.ID, func(a *store.AuthRequest) error {
		a.Done, a.Subject, a.AuthTime, a.AMR, a.Claims, a.SessionID = true, "sub-1", now, []string{"pwd"}, claims, "sess-1"
		return nil
	}))
	got, err := e.s.AuthRequest(e.ctx, ar.ID)
	noErr(t, "AuthRequest", err)
	want := *ar
	want.Done, want.Subject, want.AuthTime, want.AMR, want.Claims, want.SessionID = true, "sub-1", now, []string{"pwd"}, claims, "sess-1"
	if !reflect.DeepEqual(got.Record(), want.Record()) {
		t.Fatalf("after update:\n got %+v\nwant %+v", got, &want)
	}

	errVeto := errors.New("veto")
	tests := []struct {
		name string
		id   string
		fn   func(*store.AuthRequest) error
		want error // nil: any non-nil error
	}{
		{"fn error returned as is", ar.ID, func(a *store.AuthRequest) error { a.Subject = "x"; return errVeto }, errVeto},
		{"missing", store.NewID(), func(*store.AuthRequest) error { return nil }, store.ErrNotFound},
		{"id change refused", ar.ID, func(a *store.AuthRequest) error { a.ID, a.Subject = "other", "x"; return nil }, nil},
	}
	for _, tc := range tests {
		err := e.s.UpdateAuthRequest(e.ctx, tc.id, tc.fn)
		if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: error = %v, want %v", tc.name, err, tc.want)
		}
	}
	got, err = e.s.AuthRequest(e.ctx, ar.ID)
	noErr(t, "AuthRequest", err)
	if got.Subject != "sub-1" {
		t.Fatalf("failed updates wrote: Subject = %q", got.Subject)
	}
}

func testUpdateAuthRequestConcurrent(t *testing.T, e *env) {
	ar := fullAuthRequest(e.clock.Now())
	noErr(t, "SaveAuthRequest", e.s.SaveAuthRequest(e.ctx, ar))
	const n = 20
	errs := parallel(n, func(i int) error {
		return e.s.UpdateAuthRequest(e.ctx, ar.ID, func(a *store.AuthRequest) error {
			a.AMR = append(a.AMR, fmt.Sprint(i))
			return nil
		})
	})
	var won []string
	for i, err := range errs {
		switch {
		case err == nil:
			won = append(won, fmt.Sprint(i))
		case !errors.Is(err, store.ErrConflict):
			t.Fatalf("update %d: %v", i, err)
		}
	}
	if len(won) == 0 {
		t.Fatal("no concurrent update succeeded")
	}
	got, err := e.s.AuthRequest(e.ctx, ar.ID)
	noErr(t, "AuthRequest", err)
	slices.Sort(won)
	amr := slices.Sorted(slices.Values(got.AMR))
	if !slices.Equal(amr, won) {
		t.Fatalf("lost update: AMR = %v, successful updates = %v", amr, won)
	}
}

func testCodes(t *testing.T, e *env) {
	now := e.clock.Now()
	code := "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..long-jwe-" + store.NewID()
	other := "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..long-jwe-" + store.NewID()
	noErr(t, "SaveCode", e.s.SaveCode(e.ctx, code, "ar-1", now.Add(time.Minute), now.Add(time.Hour)))
	noErr(t, "SaveCode other", e.s.SaveCode(e.ctx, other, "ar-2", now.Add(time.Minute), now.Add(time.Hour)))

	// A code names its auth request by Ref, never by the id from the URL.
	ref, err := e.s.ConsumeCode(e.ctx, code)
	noErr(t, "ConsumeCode", err)
	if ref != store.Ref("ar-1") {
		t.Fatalf("ConsumeCode = %q, want Ref(ar-1)", ref)
	}
	ref, err = e.s.ConsumeCode(e.ctx, code)
	wantErr(t, "second consume", err, store.ErrCodeReplayed)
	if ref != store.Ref("ar-1") {
		t.Fatalf("replayed code names %q, want Ref(ar-1)", ref)
	}
	_, err = e.s.ConsumeCode(e.ctx, "never-issued")
	wantErr(t, "unknown code", err, store.ErrNotFound)

	e.clock.Advance(time.Minute)
	_, err = e.s.ConsumeCode(e.ctx, other)
	wantErr(t, "expired code", err, store.ErrNotFound)
	_, err = e.s.ConsumeCode(e.ctx, other)
	wantErr(t, "expired code again", err, store.ErrCodeReplayed)

	if err := e.s.SaveCode(e.ctx, "", "ar-1", now.Add(time.Hour), now.Add(time.Hour)); err == nil {
		t.Error("SaveCode accepted an empty code")
	}
}

func testCodeConcurrentConsume(t *testing.T, e *env) {
	code := "code-" + store.NewID()
	noErr(t, "SaveCode", e.s.SaveCode(e.ctx, code, "ar-1", e.clock.Now().Add(time.Minute), e.clock.Now().Add(time.Hour)))
	const n = 50
	winners := 0
	for i, err := range parallel(n, func(int) error { _, err := e.s.ConsumeCode(e.ctx, code); return err }) {
		switch {
		case err == nil:
			winners++
		case !errors.Is(err, store.ErrCodeReplayed):
			t.Fatalf("consumer %d: %v", i, err)
		}
	}
	if winners != 1 {
		t.Fatalf("%d consumers won, want exactly 1", winners)
	}
}

// testGrantRevoke: replaying a code revokes what its first redemption got.
func testGrantRevoke(t *testing.T, e *env) {
	now := e.clock.Now()
	fam := &store.RefreshToken{ClientID: "c", Subject: "s-" + store.NewID(), ExpiresAt: now.Add(time.Hour)}
	token, err := e.s.CreateRefreshToken(e.ctx, fam)
	noErr(t, "CreateRefreshToken", err)
	at := &store.AccessToken{ID: store.NewID(), ClientID: "c", Subject: fam.Subject, RefreshFamily: fam.FamilyID, ExpiresAt: now.Add(10 * time.Minute)}
	noErr(t, "SaveAccessToken", e.s.SaveAccessToken(e.ctx, at))
	other := &store.AccessToken{ID: store.NewID(), ClientID: "c", Subject: fam.Subject, ExpiresAt: now.Add(10 * time.Minute)}
	noErr(t, "SaveAccessToken other", e.s.SaveAccessToken(e.ctx, other))
	ar := store.Ref("ar-" + store.NewID())
	noErr(t, "SaveGrant", e.s.SaveGrant(e.ctx, ar, store.Grant{AccessTokenIDs: []string{at.ID}, FamilyID: fam.FamilyID, ExpiresAt: now.Add(time.Hour)}))

	noErr(t, "RevokeGrant", e.s.RevokeGrant(e.ctx, ar))
	_, err = e.s.AccessToken(e.ctx, at.ID)
	wantErr(t, "granted access token", err, store.ErrNotFound)
	_, err = e.s.RefreshToken(e.ctx, token)
	wantErr(t, "granted refresh token", err, store.ErrNotFound)
	_, err = e.s.AccessToken(e.ctx, other.ID)
	noErr(t, "unrelated access token", err)
	noErr(t, "RevokeGrant again", e.s.RevokeGrant(e.ctx, ar))
	noErr(t, "RevokeGrant unknown", e.s.RevokeGrant(e.ctx, store.Ref("ar-unknown")))
	if err := e.s.SaveGrant(e.ctx, "ar-raw-id", store.Grant{ExpiresAt: now.Add(time.Hour)}); err == nil {
		t.Error("SaveGrant accepted an auth request id instead of its Ref")
	}

	// A replay before the tokens are recorded leaves a mark, which
	// RevokeGrant keeps and SaveGrantFirst returns instead of writing.
	early := store.Ref("ar-" + store.NewID())
	marked, err := e.s.MarkReplayed(e.ctx, early, "c", "proof", now.Add(time.Hour))
	if noErr(t, "MarkReplayed", err); !marked {
		t.Fatal("MarkReplayed on nothing: not marked")
	}
	if again, err := e.s.MarkReplayed(e.ctx, early, "c2", "other", now.Add(time.Hour)); err != nil || again {
		t.Fatalf("MarkReplayed over a mark: %v, %v; want false", again, err)
	}
	noErr(t, "RevokeGrant of a mark", e.s.RevokeGrant(e.ctx, early))
	mark, err := e.s.SaveGrantFirst(e.ctx, early, store.Grant{AccessTokenIDs: []string{other.ID}, ClientID: "c", ExpiresAt: now.Add(time.Hour)})
	noErr(t, "SaveGrantFirst over a mark", err)
	if mark == nil || mark.ReplayedBy != "c" || mark.ReplayProof != "proof" {
		t.Fatalf("SaveGrantFirst over a mark returned %+v", mark)
	}
	// Without a mark it records; a replay after that finds the grant.
	late := store.Ref("ar-" + store.NewID())
	mark, err = e.s.SaveGrantFirst(e.ctx, late, store.Grant{AccessTokenIDs: []string{other.ID}, ClientID: "c", ExpiresAt: now.Add(time.Hour)})
	if err != nil || mark != nil {
		t.Fatalf("SaveGrantFirst on nothing: %+v, %v", mark, err)
	}
	if marked, err := e.s.MarkReplayed(e.ctx, late, "c", "proof", now.Add(time.Hour)); err != nil || marked {
		t.Fatalf("MarkReplayed over a grant: %v, %v; want false", marked, err)
	}
	g, err := e.s.Grant(e.ctx, late)
	if noErr(t, "Grant", err); g.ClientID != "c" || len(g.AccessTokenIDs) != 1 {
		t.Fatalf("the grant after a late mark: %+v", g)
	}
}

// testResetFlow: flows expire by the clock, updates are atomic, a link is
// readable any number of times and consumed once and names its flow by
// Ref; the pending sign-in's id comes back only to the flow's id; a flow
// moves only with its current link.
func testResetFlow(t *testing.T, e *env) {
	now := e.clock.Now()
	f := &store.ResetFlow{ID: store.NewID(), AuthRequestID: store.NewID(), Email: "a@example.org", LinkHash: "h1", CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute)}
	noErr(t, "SaveResetFlow", e.s.SaveResetFlow(e.ctx, f))
	const n = 20
	for i, err := range parallel(n, func(int) error {
		return e.s.UpdateResetFlow(e.ctx, f.ID, func(f *store.ResetFlow) error { f.CodeTries++; return nil })
	}) {
		noErr(t, "UpdateResetFlow "+strconv.Itoa(i), err)
	}
	got, err := e.s.ResetFlow(e.ctx, f.ID)
	noErr(t, "ResetFlow", err)
	if got.CodeTries != n || got.Email != f.Email || got.ID != f.ID || got.Ref != store.Ref(f.ID) ||
		got.AuthRequestID != f.AuthRequestID || got.AuthRequestRef != store.Ref(f.AuthRequestID) {
		t.Fatalf("flow after %d updates: %+v", n, got)
	}

	noErr(t, "SaveResetLink", e.s.SaveResetLink(e.ctx, "h1", f.ID, now.Add(10*time.Minute)))
	for range 2 {
		ref, err := e.s.ResetLink(e.ctx, "h1")
		noErr(t, "ResetLink", err)
		if ref != f.Ref {
			t.Fatalf("ResetLink = %q", ref)
		}
	}
	ref, err := e.s.ConsumeResetLink(e.ctx, "h1")
	noErr(t, "ConsumeResetLink", err)
	if ref != f.Ref {
		t.Fatalf("ConsumeResetLink = %q", ref)
	}

	// A link that is not the flow's current one leaves it where it is.
	for _, stale := range []string{"h0", ""} {
		_, err = e.s.MoveResetFlow(e.ctx, ref, stale)
		wantErr(t, "move with link "+strconv.Quote(stale), err, store.ErrNotFound)
	}
	_, err = e.s.ResetFlow(e.ctx, f.ID)
	noErr(t, "flow after a move with another link", err)

	// Another browser takes the flow over: a new id, the old one finds
	// nothing, the pending sign-in is known by Ref only.
	moved, err := e.s.MoveResetFlow(e.ctx, ref, "h1")
	noErr(t, "MoveResetFlow", err)
	if moved.ID == f.ID || moved.CodeTries != n || moved.AuthRequestID != "" || moved.AuthRequestRef != store.Ref(f.AuthRequestID) {
		t.Fatalf("moved flow: %+v", moved)
	}
	_, err = e.s.ResetFlow(e.ctx, f.ID)
	wantErr(t, "flow under its old id", err, store.ErrNotFound)
	_, err = e.s.MoveResetFlow(e.ctx, ref, "h1")
	wantErr(t, "second move", err, store.ErrNotFound)
	f = moved
	_, err = e.s.ConsumeResetLink(e.ctx, "h1")
	wantErr(t, "second consume", err, store.ErrNotFound)

	noErr(t, "SaveResetLink", e.s.SaveResetLink(e.ctx, "h2", f.ID, now.Add(10*time.Minute)))
	e.clock.Advance(10 * time.Minute)
	_, err = e.s.ResetLink(e.ctx, "h2")
	wantErr(t, "expired link", err, store.ErrNotFound)
	e.clock.Advance(5 * time.Minute)
	_, err = e.s.ResetFlow(e.ctx, f.ID)
	wantErr(t, "expired flow", err, store.ErrNotFound)
}

// testConsumeCodeFor: the code is spent and, in the same call, the session
// its sign-in went through is found alive, ended, expired or revoked; the
// token given to issue is saved, indexed and granted when, and only when,
// the answer is nil.
func testConsumeCodeFor(t *testing.T, e *env) {
	tests := []struct {
		name    string
		session func(subject string) string // the session's Ref
		expired bool                        // the code is past its expiry
		want    error
	}{
		{"alive", func(sub string) string { return saveSession(t, e, sub, time.Hour).Ref }, false, nil},
		{"no session", func(string) string { return "" }, false, nil},
		{"logged out", func(sub string) string {
			sess := saveSession(t, e, sub, time.Hour)
			noErr(t, "DeleteSession", e.s.DeleteSession(e.ctx, sess.ID))
			return sess.Ref
		}, false, store.ErrSessionEnded},
		{"revoked after a new password", func(sub string) string {
			sess := saveSession(t, e, sub, time.Hour)
			e.clock.Advance(time.Millisecond)
			noErr(t, "RevokeSubject", e.s.RevokeSubject(e.ctx, sub, ""))
			return sess.Ref
		}, false, store.ErrSessionEnded},
		{"signed in before a revocation, saved after it", func(sub string) string {
			sess := newSession(e.clock.Now(), sub, time.Hour)
			e.clock.Advance(time.Millisecond)
			noErr(t, "RevokeSubject", e.s.RevokeSubject(e.ctx, sub, ""))
			noErr(t, "SaveSession", e.s.SaveSession(e.ctx, sess))
			return sess.Ref
		}, false, store.ErrSessionEnded},
		{"the revocation kept it", func(sub string) string {
			sess := saveSession(t, e, sub, time.Hour)
			e.clock.Advance(time.Millisecond)
			noErr(t, "RevokeSubject", e.s.RevokeSubject(e.ctx, sub, sess.Ref))
			return sess.Ref
		}, false, nil},
		{"another person's session", func(string) string { return saveSession(t, e, "someone-else", time.Hour).Ref }, false, nil},
		{"expired code", func(sub string) string { return saveSession(t, e, sub, time.Hour).Ref }, true, store.ErrNotFound},
	}
	issued := func(sub, ar string) *store.Issued {
		now := e.clock.Now()
		at := &store.AccessToken{ID: store.NewID(), ClientID: "c", Subject: sub, ExpiresAt: now.Add(10 * time.Minute)}
		return &store.Issued{AccessToken: at, AuthRequestRef: store.Ref(ar),
			Grant: store.Grant{AccessTokenIDs: []string{at.ID}, ClientID: "c", ExpiresAt: now.Add(time.Hour)}}
	}
	// saved: whether issue's token and grant are in the store, both or
	// neither.
	saved := func(t *testing.T, issue *store.Issued) bool {
		t.Helper()
		_, terr := e.s.AccessToken(e.ctx, issue.AccessToken.ID)
		g, gerr := e.s.Grant(e.ctx, issue.AuthRequestRef)
		for _, err := range []error{terr, gerr} {
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatal(err)
			}
		}
		if (terr == nil) != (gerr == nil) {
			t.Fatalf("token found: %v, grant found: %v; want both or neither", terr == nil, gerr == nil)
		}
		if gerr == nil && !slices.Equal(g.AccessTokenIDs, []string{issue.AccessToken.ID}) {
			t.Fatalf("grant = %+v", g)
		}
		return terr == nil
	}
	for _, tc := range tests {
		for _, issuing := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/issuing=%v", tc.name, issuing), func(t *testing.T) {
				sub := "sub-" + store.NewID()
				ref := tc.session(sub)
				now := e.clock.Now()
				code, ar := "code-"+store.NewID(), "ar-"+store.NewID()
				exp := now.Add(time.Hour)
				if tc.expired {
					exp = now.Add(time.Millisecond)
				}
				noErr(t, "SaveCode", e.s.SaveCode(e.ctx, code, ar, exp, now.Add(2*time.Hour)))
				if tc.expired {
					e.clock.Advance(2 * time.Millisecond)
				}
				var issue *store.Issued
				if issuing {
					issue = issued(sub, ar)
				}
				got, err := e.s.ConsumeCodeFor(e.ctx, code, ref, sub, issue)
				if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
					t.Fatalf("ConsumeCodeFor = %v, want %v", err, tc.want)
				}
				if tc.want != store.ErrNotFound && got != store.Ref(ar) {
					t.Errorf("ConsumeCodeFor names %q, want Ref(%s)", got, ar)
				}
				if issuing && saved(t, issue) != (err == nil) {
					t.Fatalf("answered %v, but the token is saved: %v", err, !(err == nil))
				}
				// Spent either way: the second time is a replay, and issues nothing.
				again := issued(sub, ar)
				_, err = e.s.ConsumeCodeFor(e.ctx, code, ref, sub, again)
				wantErr(t, "second consume", err, store.ErrCodeReplayed)
				_, err = e.s.AccessToken(e.ctx, again.AccessToken.ID)
				wantErr(t, "token of a replayed code", err, store.ErrNotFound)
				if issuing && tc.want == nil && !saved(t, issue) {
					t.Error("the replay lost the grant of the first redemption")
				}
				if issuing && tc.want == nil {
					// Indexed like any token: revoking the person deletes it.
					e.clock.Advance(time.Millisecond)
					noErr(t, "RevokeSubject", e.s.RevokeSubject(e.ctx, sub, ""))
					_, err := e.s.AccessToken(e.ctx, issue.AccessToken.ID)
					wantErr(t, "token of a revoked person", err, store.ErrNotFound)
				}
			})
		}
	}
	sub := "sub-" + store.NewID()
	issue := issued(sub, "ar-never")
	_, err := e.s.ConsumeCodeFor(e.ctx, "never-issued", saveSession(t, e, sub, time.Hour).Ref, sub, issue)
	wantErr(t, "unknown code", err, store.ErrNotFound)
	if saved(t, issue) {
		t.Error("an unknown code saved a token")
	}
}

// testAccessTokenWithGrant: the token and its code's grant are written
// together, and a replay's RevokeGrant finds the token.
func testAccessTokenWithGrant(t *testing.T, e *env) {
	now := e.clock.Now()
	sub := "s-" + store.NewID()
	at := &store.AccessToken{ID: store.NewID(), ClientID: "c", Subject: sub, ExpiresAt: now.Add(10 * time.Minute)}
	ar := store.Ref("ar-" + store.NewID())
	noErr(t, "SaveAccessTokenFor", e.s.SaveAccessTokenFor(e.ctx, at, ar, store.Grant{AccessTokenIDs: []string{at.ID}, ClientID: "c", ExpiresAt: now.Add(time.Hour)}))
	g, err := e.s.Grant(e.ctx, ar)
	noErr(t, "Grant", err)
	if g.ClientID != "c" || !slices.Equal(g.AccessTokenIDs, []string{at.ID}) {
		t.Errorf("grant = %+v", g)
	}
	_, err = e.s.AccessToken(e.ctx, at.ID)
	noErr(t, "AccessToken", err)
	noErr(t, "RevokeGrant", e.s.RevokeGrant(e.ctx, ar))
	_, err = e.s.AccessToken(e.ctx, at.ID)
	wantErr(t, "revoked access token", err, store.ErrNotFound)

	// Indexed like any token: revoking the person deletes it.
	other := &store.AccessToken{ID: store.NewID(), ClientID: "c", Subject: sub, ExpiresAt: now.Add(10 * time.Minute)}
	ar2 := store.Ref("ar-" + store.NewID())
	noErr(t, "SaveAccessTokenFor", e.s.SaveAccessTokenFor(e.ctx, other, ar2, store.Grant{AccessTokenIDs: []string{other.ID}, ExpiresAt: now.Add(time.Hour)}))
	e.clock.Advance(time.Millisecond)
	noErr(t, "RevokeSubject", e.s.RevokeSubject(e.ctx, sub, ""))
	_, err = e.s.AccessToken(e.ctx, other.ID)
	wantErr(t, "access token of a revoked person", err, store.ErrNotFound)
	if err := e.s.SaveAccessTokenFor(e.ctx, other, "ar-raw-id", store.Grant{ExpiresAt: now.Add(time.Hour)}); err == nil {
		t.Error("SaveAccessTokenFor accepted an auth request id instead of its Ref")
	}
}

// testCompleteWithCode: the completion and its code land together, or,
// when the request changed since it was read, neither does; the session
// the sign-in opened is saved and indexed either way, also when the
// request was not read by this store (no round trip saved then). The keys
// it is asked to forget (another package's) are deleted in every case.
func testCompleteWithCode(t *testing.T, e *env) {
	now := e.clock.Now()
	for _, tc := range []struct {
		name             string
		changed, unread  bool
		wantWon, session bool
	}{
		{name: "won", wantWon: true},
		{name: "won with a session", wantWon: true, session: true},
		{name: "changed meanwhile", changed: true},
		{name: "changed meanwhile, with a session", changed: true, session: true},
		{name: "not read by the store, with a session", unread: true, session: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ar := fullAuthRequest(now)
			noErr(t, "SaveAuthRequest", e.s.SaveAuthRequest(e.ctx, ar))
			loaded, err := e.s.AuthRequest(e.ctx, ar.ID)
			noErr(t, "AuthRequest", err)
			if tc.changed {
				noErr(t, "UpdateAuthRequest", e.s.UpdateAuthRequest(e.ctx, ar.ID, func(a *store.AuthRequest) error { a.IDPHint = "elus"; return nil }))
			}
			if tc.unread {
				loaded = ar
			}
			var open *store.Session
			subject := "sub-" + store.NewID()
			if tc.session {
				open = newSession(now, subject, 8*time.Hour)
			}
			done := loaded.Record()
			done.Done, done.Subject, done.CodeIssued = true, subject, true
			code := "code-" + store.NewID()
			o := e.s.Options()
			forget := []string{o.Prefix + "throttle:a:" + store.NewID(), o.Prefix + "throttle:a:" + store.NewID()}
			for _, k := range forget {
				noErr(t, "SET "+k, o.Client.Set(e.ctx, k, "1", time.Hour).Err())
			}
			won, err := e.s.CompleteWithCode(e.ctx, loaded, &done, code, now.Add(time.Minute), now.Add(time.Hour), open, forget...)
			noErr(t, "CompleteWithCode", err)
			if won != tc.wantWon {
				t.Fatalf("won = %v, want %v", won, tc.wantWon)
			}
			for _, k := range forget {
				n, err := o.Client.Exists(e.ctx, k).Result()
				noErr(t, "EXISTS "+k, err)
				if n != 0 {
					t.Errorf("%s was to be forgotten with the completion, and is still there", k)
				}
			}
			if tc.session {
				got, err := e.s.Session(e.ctx, open.ID)
				noErr(t, "Session", err)
				if got.Ref != store.Ref(open.ID) || open.Ref != got.Ref || got.Subject != subject {
					t.Errorf("session saved as %+v (open.Ref %q)", got, open.Ref)
				}
				refs, err := e.s.SessionsOf(e.ctx, subject)
				noErr(t, "SessionsOf", err)
				if len(refs) != 1 || refs[0] != open.Ref {
					t.Errorf("SessionsOf = %v, want the opened session", refs)
				}
			}
			got, err := e.s.AuthRequest(e.ctx, ar.ID)
			noErr(t, "AuthRequest after", err)
			cs, perr := e.s.PeekCode(e.ctx, code)
			if !tc.wantWon {
				if got.Done {
					t.Errorf("a lost completion was written: %+v", got.Record())
				}
				if tc.changed && got.IDPHint != "elus" {
					t.Errorf("the change made meanwhile was overwritten: %+v", got.Record())
				}
				wantErr(t, "code of a lost completion", perr, store.ErrNotFound)
				return
			}
			noErr(t, "PeekCode", perr)
			if !got.Done || !got.CodeIssued || cs.AuthRequest == nil || cs.AuthRequest.Subject != subject || cs.AuthRequestRef != store.Ref(ar.ID) {
				t.Errorf("after a won completion: request %+v, code %+v", got.Record(), cs)
			}
		})
	}
}

// testAuthRequestAdmitted: a sign-in is stored only with a place in its
// counter, in the same call; a refused one leaves no record and takes no
// place, so the first place to free up stays where it was.
func testAuthRequestAdmitted(t *testing.T, e *env) {
	start := e.clock.Now()
	a := store.Admission{Name: "authorize-ip:" + store.NewID(), Window: 10 * time.Minute, Limit: 2}
	save := func() (*store.AuthRequest, bool, time.Time) {
		t.Helper()
		ar := fullAuthRequest(e.clock.Now())
		ok, retry, err := e.s.SaveAuthRequestAdmitted(e.ctx, ar, a)
		noErr(t, "SaveAuthRequestAdmitted", err)
		return ar, ok, retry
	}
	stored := func(ar *store.AuthRequest) bool {
		t.Helper()
		_, err := e.s.AuthRequest(e.ctx, ar.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	for i := range 2 {
		e.clock.Advance(time.Minute)
		ar, ok, retry := save()
		if !ok || !retry.IsZero() || !stored(ar) || ar.Ref != store.Ref(ar.ID) {
			t.Fatalf("sign-in %d: admitted %v, retry %v, stored %v", i+1, ok, retry, stored(ar))
		}
	}
	for range 2 {
		e.clock.Advance(time.Minute)
		ar, ok, retry := save()
		if ok || !retry.Equal(start.Add(time.Minute+a.Window)) || stored(ar) {
			t.Fatalf("over the limit: admitted %v, retry %v (want %v), stored %v", ok, retry, start.Add(time.Minute+a.Window), stored(ar))
		}
	}
	e.clock.Set(start.Add(time.Minute + a.Window))
	if ar, ok, _ := save(); !ok || !stored(ar) {
		t.Fatalf("once the first left the window: admitted %v, stored %v", ok, stored(ar))
	}
	if _, _, err := e.s.SaveAuthRequestAdmitted(e.ctx, fullAuthRequest(e.clock.Now()), store.Admission{Name: "x", Window: time.Minute}); err == nil {
		t.Error("an admission without a limit was accepted")
	}
}
