package storetest

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/store"
)

var jeanne = store.Claims{Email: "jeanne.dupont@example.org", EmailVerified: true, Name: "Jeanne Dupont",
	GivenName: "Jeanne", FamilyName: "Dupont", PreferredUsername: "jdupont"}

func newAccessToken(now time.Time, subject, family string) *store.AccessToken {
	return &store.AccessToken{
		ID: store.NewID(), ClientID: "rp-1", Subject: subject, RefreshFamily: family,
		Audience: []string{"rp-1"}, Scopes: []string{"openid", "offline_access"}, AMR: []string{"pwd"},
		AuthTime: now.Add(-time.Minute), CreatedAt: now, ExpiresAt: now.Add(5 * time.Minute), Claims: jeanne,
	}
}

func newFamily(now time.Time, subject string) *store.RefreshToken {
	return &store.RefreshToken{
		ClientID: "rp-1", Subject: subject, Audience: []string{"rp-1"}, Scopes: []string{"openid", "offline_access"},
		AMR: []string{"pwd"}, AuthTime: now.Add(-time.Minute), CreatedAt: now, ExpiresAt: now.Add(time.Hour),
		Claims: jeanne, SessionID: "sess-1",
	}
}

func createFamily(t *testing.T, e *env, subject string) (*store.RefreshToken, string) {
	t.Helper()
	rt := newFamily(e.clock.Now(), subject)
	token, err := e.s.CreateRefreshToken(e.ctx, rt)
	noErr(t, "CreateRefreshToken", err)
	return rt, token
}

func testAccessToken(t *testing.T, e *env) {
	at := newAccessToken(e.clock.Now(), "sub-1", "")
	noErr(t, "SaveAccessToken", e.s.SaveAccessToken(e.ctx, at))
	got, err := e.s.AccessToken(e.ctx, at.ID)
	noErr(t, "AccessToken", err)
	if !reflect.DeepEqual(got, at) {
		t.Fatalf("round-trip:\n got %+v\nwant %+v", got, at)
	}
	_, err = e.s.AccessToken(e.ctx, store.NewID())
	wantErr(t, "unknown", err, store.ErrNotFound)

	e.clock.Advance(5 * time.Minute)
	_, err = e.s.AccessToken(e.ctx, at.ID)
	wantErr(t, "expired", err, store.ErrNotFound)

	at = newAccessToken(e.clock.Now(), "sub-1", "")
	noErr(t, "SaveAccessToken", e.s.SaveAccessToken(e.ctx, at))
	noErr(t, "DeleteAccessToken", e.s.DeleteAccessToken(e.ctx, at.ID))
	noErr(t, "DeleteAccessToken again", e.s.DeleteAccessToken(e.ctx, at.ID))
	_, err = e.s.AccessToken(e.ctx, at.ID)
	wantErr(t, "deleted", err, store.ErrNotFound)
}

func testAccessTokenOfFamily(t *testing.T, e *env) {
	rt, token := createFamily(t, e, "sub-1")
	at := newAccessToken(e.clock.Now(), "sub-1", rt.FamilyID)
	noErr(t, "SaveAccessToken", e.s.SaveAccessToken(e.ctx, at))

	// Rotation does not end the access tokens issued before it.
	_, _, err := e.s.RotateRefreshToken(e.ctx, token)
	noErr(t, "RotateRefreshToken", err)
	_, err = e.s.AccessToken(e.ctx, at.ID)
	noErr(t, "AccessToken after rotation", err)

	noErr(t, "RevokeRefreshFamily", e.s.RevokeRefreshFamily(e.ctx, rt.FamilyID))
	_, err = e.s.AccessToken(e.ctx, at.ID)
	wantErr(t, "access token of revoked family", err, store.ErrNotFound)

	late := newAccessToken(e.clock.Now(), "sub-1", rt.FamilyID)
	wantErr(t, "save for revoked family", e.s.SaveAccessToken(e.ctx, late), store.ErrNotFound)
	orphan := newAccessToken(e.clock.Now(), "sub-1", store.NewID())
	wantErr(t, "save for unknown family", e.s.SaveAccessToken(e.ctx, orphan), store.ErrNotFound)

	// An access token issued just before the family's absolute end outlives it:
	// expiry is not revocation.
	rt2, _ := createFamily(t, e, "sub-1")
	e.clock.Advance(time.Hour - time.Minute)
	at2 := newAccessToken(e.clock.Now(), "sub-1", rt2.FamilyID)
	noErr(t, "SaveAccessToken near family end", e.s.SaveAccessToken(e.ctx, at2))
	e.clock.Advance(2 * time.Minute)
	_, err = e.s.AccessToken(e.ctx, at2.ID)
	noErr(t, "access token after family end", err)
	wantErr(t, "save after family end", e.s.SaveAccessToken(e.ctx, newAccessToken(e.clock.Now(), "sub-1", rt2.FamilyID)), store.ErrNotFound)
	// …but not RevokeSubject, although its family is over (and pruned from the
	// person's index by a later login).
	saveSession(t, e, "sub-1", time.Hour)
	noErr(t, "RevokeSubject", e.s.RevokeSubject(e.ctx, "sub-1", ""))
	_, err = e.s.AccessToken(e.ctx, at2.ID)
	wantErr(t, "access token after RevokeSubject", err, store.ErrNotFound)
}

func testRefreshCreate(t *testing.T, e *env) {
	rt, token := createFamily(t, e, "sub-1")
	if rt.FamilyID == "" {
		t.Fatal("FamilyID not generated")
	}
	fam, ok := e.s.RefreshFamilyOf(token)
	if !ok || fam != rt.FamilyID {
		t.Fatalf("RefreshFamilyOf = %q, %v; want %q", fam, ok, rt.FamilyID)
	}
	secret := strings.TrimPrefix(token, fam+".")
	if len(fam) < 22 || len(secret) < 22 || strings.ContainsAny(token, ":{}") {
		t.Fatalf("token %q: want <≥128-bit family>.<≥128-bit secret> in base64url", token)
	}
	got, err := e.s.RefreshToken(e.ctx, token)
	noErr(t, "RefreshToken", err)
	if !reflect.DeepEqual(got, rt) {
		t.Fatalf("round-trip:\n got %+v\nwant %+v", got, rt)
	}
	got, err = e.s.RefreshFamily(e.ctx, rt.FamilyID)
	noErr(t, "RefreshFamily", err)
	if !reflect.DeepEqual(got, rt) {
		t.Fatalf("RefreshFamily:\n got %+v\nwant %+v", got, rt)
	}
	for _, id := range []string{store.NewID(), "", "x{y}"} {
		_, err = e.s.RefreshFamily(e.ctx, id)
		wantErr(t, "RefreshFamily("+id+")", err, store.ErrNotFound)
	}

	preset := newFamily(e.clock.Now(), "sub-1")
	preset.FamilyID = store.NewID()
	token2, err := e.s.CreateRefreshToken(e.ctx, preset)
	noErr(t, "CreateRefreshToken with FamilyID", err)
	if fam, _ := e.s.RefreshFamilyOf(token2); fam != preset.FamilyID {
		t.Fatalf("preset family: token family %q, want %q", fam, preset.FamilyID)
	}
	_, err = e.s.CreateRefreshToken(e.ctx, preset)
	wantErr(t, "existing family", err, store.ErrConflict)

	for _, bad := range []string{"a.b", "{tag}", "x:y"} {
		rt := newFamily(e.clock.Now(), "sub-1")
		rt.FamilyID = bad
		if _, err := e.s.CreateRefreshToken(e.ctx, rt); err == nil || errors.Is(err, store.ErrConflict) {
			t.Errorf("CreateRefreshToken(FamilyID %q) = %v, want an invalid-id error", bad, err)
		}
	}
	noExpiry := newFamily(e.clock.Now(), "sub-1")
	noExpiry.ExpiresAt = time.Time{}
	if _, err := e.s.CreateRefreshToken(e.ctx, noExpiry); err == nil {
		t.Error("CreateRefreshToken accepted a family without ExpiresAt")
	}
}

func testRefreshMalformed(t *testing.T, e *env) {
	rt, token := createFamily(t, e, "sub-1")
	secret := strings.TrimPrefix(token, rt.FamilyID+".")
	madeUp := rt.FamilyID + "." + strings.Repeat("A", len(secret))
	tests := []struct{ name, token string }{
		{"empty", ""},
		{"no dot", rt.FamilyID},
		{"empty family", "." + secret},
		{"short secret", rt.FamilyID + ".abc"},
		{"long secret", token + "A"},
		{"bad characters", rt.FamilyID + "." + strings.Repeat("*", len(secret))},
		{"two dots", token + ".x"},
		{"unknown family", store.NewID() + "." + secret},
		{"made-up secret of a real family", madeUp},
	}
	for _, tc := range tests {
		_, err := e.s.RefreshToken(e.ctx, tc.token)
		wantErr(t, tc.name+": RefreshToken", err, store.ErrNotFound)
		_, _, err = e.s.RotateRefreshToken(e.ctx, tc.token)
		wantErr(t, tc.name+": RotateRefreshToken", err, store.ErrNotFound)
	}
	for _, tc := range tests[:7] {
		if fam, ok := e.s.RefreshFamilyOf(tc.token); ok {
			t.Errorf("%s: RefreshFamilyOf = %q, true", tc.name, fam)
		}
	}
	// A guessed secret must not let anyone revoke someone else's family.
	_, err := e.s.RefreshToken(e.ctx, token)
	noErr(t, "real token after made-up ones", err)
}

func testRefreshRotation(t *testing.T, e *env) {
	rt, t1 := createFamily(t, e, "sub-1")
	e.clock.Advance(10 * time.Minute)
	t2, got, err := e.s.RotateRefreshToken(e.ctx, t1)
	noErr(t, "rotate", err)
	if t2 == t1 {
		t.Fatal("rotation returned the same token")
	}
	if fam, _ := e.s.RefreshFamilyOf(t2); fam != rt.FamilyID {
		t.Fatalf("rotated token family %q, want %q", fam, rt.FamilyID)
	}
	if !reflect.DeepEqual(got, rt) {
		t.Fatalf("rotation changed the record (absolute expiry must not move):\n got %+v\nwant %+v", got, rt)
	}
	tokens := []string{t1, t2}
	for range 3 {
		next, _, err := e.s.RotateRefreshToken(e.ctx, tokens[len(tokens)-1])
		noErr(t, "rotate chain", err)
		tokens = append(tokens, next)
	}
	cur := tokens[len(tokens)-1]
	_, err = e.s.RefreshToken(e.ctx, cur)
	noErr(t, "current token", err)

	// The first token of the chain comes back: the whole family dies.
	_, err = e.s.RefreshToken(e.ctx, t1)
	wantErr(t, "reuse of the first token", err, store.ErrRefreshReused)
	_, err = e.s.RefreshToken(e.ctx, cur)
	wantErr(t, "current token after reuse", err, store.ErrNotFound)
	_, err = e.s.RefreshToken(e.ctx, t1)
	wantErr(t, "reused token after revocation", err, store.ErrNotFound)
}

func testRefreshReuse(t *testing.T, e *env) {
	tests := []struct {
		name  string
		reuse func(e *env, token string) error
	}{
		{"read", func(e *env, tok string) error { _, err := e.s.RefreshToken(e.ctx, tok); return err }},
		{"rotate", func(e *env, tok string) error { _, _, err := e.s.RotateRefreshToken(e.ctx, tok); return err }},
	}
	for _, tc := range tests {
		rt, t1 := createFamily(t, e, "sub-1")
		at := newAccessToken(e.clock.Now(), "sub-1", rt.FamilyID)
		noErr(t, tc.name+": SaveAccessToken", e.s.SaveAccessToken(e.ctx, at))
		t2, _, err := e.s.RotateRefreshToken(e.ctx, t1)
		noErr(t, tc.name+": rotate", err)

		wantErr(t, tc.name+": old token", tc.reuse(e, t1), store.ErrRefreshReused)
		_, err = e.s.RefreshToken(e.ctx, t2)
		wantErr(t, tc.name+": new token after reuse", err, store.ErrNotFound)
		_, _, err = e.s.RotateRefreshToken(e.ctx, t2)
		wantErr(t, tc.name+": rotate new token after reuse", err, store.ErrNotFound)
		_, err = e.s.AccessToken(e.ctx, at.ID)
		wantErr(t, tc.name+": access token after reuse", err, store.ErrNotFound)
	}
}

func testRefreshConcurrentRotation(t *testing.T, e *env) {
	_, t1 := createFamily(t, e, "sub-1")
	const n = 20
	var winners []string
	newTokens := make([]string, n)
	errs := parallel(n, func(i int) error {
		var err error
		newTokens[i], _, err = e.s.RotateRefreshToken(e.ctx, t1)
		return err
	})
	reused := 0
	for i, err := range errs {
		switch {
		case err == nil:
			winners = append(winners, newTokens[i])
		case errors.Is(err, store.ErrRefreshReused):
			reused++
		case !errors.Is(err, store.ErrNotFound): // lost after another loser revoked the family
			t.Fatalf("rotation %d: %v", i, err)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d rotations succeeded, want exactly 1", len(winners))
	}
	if reused == 0 {
		t.Fatal("no loser reported reuse")
	}
	_, err := e.s.RefreshToken(e.ctx, winners[0])
	wantErr(t, "winner's token after detected reuse", err, store.ErrNotFound)
}

func testRefreshFamilyExpiry(t *testing.T, e *env) {
	rt, t1 := createFamily(t, e, "sub-1") // ExpiresAt = start + 1h, for the whole family
	e.clock.Advance(30 * time.Minute)
	t2, _, err := e.s.RotateRefreshToken(e.ctx, t1)
	noErr(t, "rotate before expiry", err)
	e.clock.Advance(30*time.Minute - time.Millisecond)
	_, err = e.s.RefreshToken(e.ctx, t2)
	noErr(t, "just before the absolute expiry", err)
	e.clock.Advance(time.Millisecond)
	_, err = e.s.RefreshToken(e.ctx, t2)
	wantErr(t, "at the absolute expiry", err, store.ErrNotFound)
	_, _, err = e.s.RotateRefreshToken(e.ctx, t2)
	wantErr(t, "rotate expired", err, store.ErrNotFound)
	_, err = e.s.RefreshFamily(e.ctx, rt.FamilyID)
	wantErr(t, "RefreshFamily expired", err, store.ErrNotFound)
	// Reuse after expiry is plain not-found: nothing is left to protect.
	_, err = e.s.RefreshToken(e.ctx, t1)
	wantErr(t, "old token after expiry", err, store.ErrNotFound)

	noErr(t, "RevokeRefreshFamily expired", e.s.RevokeRefreshFamily(e.ctx, rt.FamilyID))
	noErr(t, "RevokeRefreshFamily again", e.s.RevokeRefreshFamily(e.ctx, rt.FamilyID))
	noErr(t, "RevokeRefreshFamily invalid id", e.s.RevokeRefreshFamily(e.ctx, "not{valid}"))

	rt3, t3 := createFamily(t, e, "sub-1")
	noErr(t, "RevokeRefreshFamily", e.s.RevokeRefreshFamily(e.ctx, rt3.FamilyID))
	_, err = e.s.RefreshToken(e.ctx, t3)
	wantErr(t, "revoked family", err, store.ErrNotFound)
	_, err = e.s.RefreshFamily(e.ctx, rt3.FamilyID)
	wantErr(t, "RefreshFamily revoked", err, store.ErrNotFound)
}

// testMoveSessionFamilies: the person's families of one session move to
// another, their tokens unchanged (the current one still rotates, a
// rotated-away one still revokes); other sessions' and other people's
// families stay where they are.
func testMoveSessionFamilies(t *testing.T, e *env) {
	moved, t1 := createFamily(t, e, "sub-1")
	t2, _, err := e.s.RotateRefreshToken(e.ctx, t1)
	noErr(t, "rotate before the move", err)
	other := newFamily(e.clock.Now(), "sub-1")
	other.SessionID = "sess-2"
	_, err = e.s.CreateRefreshToken(e.ctx, other)
	noErr(t, "CreateRefreshToken", err)
	someoneElse, _ := createFamily(t, e, "sub-2") // also of sess-1, in its records

	noErr(t, "MoveSessionFamilies", e.s.MoveSessionFamilies(e.ctx, "sub-1", "sess-1", "sess-9"))
	noErr(t, "MoveSessionFamilies of nothing", e.s.MoveSessionFamilies(e.ctx, "sub-3", "sess-1", "sess-9"))

	for _, tc := range []struct {
		fam  string
		want string
	}{{moved.FamilyID, "sess-9"}, {other.FamilyID, "sess-2"}, {someoneElse.FamilyID, "sess-1"}} {
		got, err := e.s.RefreshFamily(e.ctx, tc.fam)
		noErr(t, "RefreshFamily", err)
		if got.SessionID != tc.want {
			t.Errorf("family %s: session %q, want %q", tc.fam, got.SessionID, tc.want)
		}
	}
	want := *moved
	want.SessionID = "sess-9"
	t3, got, err := e.s.RotateRefreshToken(e.ctx, t2)
	noErr(t, "rotate after the move", err)
	if !reflect.DeepEqual(got, &want) {
		t.Errorf("record after the move:\n got %+v\nwant %+v", got, &want)
	}
	_, err = e.s.RefreshToken(e.ctx, t1)
	wantErr(t, "a token rotated away before the move", err, store.ErrRefreshReused)
	_, err = e.s.RefreshToken(e.ctx, t3)
	wantErr(t, "the current token after the reuse", err, store.ErrNotFound)
}
