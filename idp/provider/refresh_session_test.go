package provider

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/region-nouvelle-aquitaine/idp/idp/store"
)

// TestRefreshFamilyEndsWithItsSession: a refresh family ends when the
// sign-in session it came through does, at the latest. An upstream's
// auth_time may be older than the session opened here (its own single
// sign-on answered): the site still gets its refresh token, for as long
// as the session lasts, not a refusal of the whole code.
func TestRefreshFamilyEndsWithItsSession(t *testing.T) {
	tests := []struct {
		name     string
		authTime time.Duration // from now
		opened   time.Duration // the session, from now
	}{
		{"password checked as the session opened", -time.Minute, -time.Minute},
		{"the site came through the session 11 h later", -11 * time.Hour, -11 * time.Hour},
		{"an upstream's authentication 13 h old", -13 * time.Hour, 0},
		{"an upstream's authentication 11 h 59 old", -11*time.Hour - 59*time.Minute, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			now := f.clock.Now()
			sess := &store.Session{ID: store.NewID(), Subject: "siege.agent-42", AuthTime: now.Add(tc.authTime),
				CreatedAt: now.Add(tc.opened), LastSeen: now, ExpiresAt: now.Add(tc.opened + testLife.RefreshToken)}
			if err := f.st.SaveSession(ctx, sess); err != nil {
				t.Fatal(err)
			}
			g := f.code(t, "conf", confCB, testVerifier, oidc.ScopeOfflineAccess)
			if err := f.st.UpdateAuthRequest(ctx, g.authRequestID, func(ar *store.AuthRequest) error {
				ar.SessionID, ar.AuthTime = sess.Ref, sess.AuthTime
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			_, rt := tokens(t, f.exchange(t, "conf", g))
			fam, _ := f.st.RefreshFamilyOf(rt)
			got, err := f.st.RefreshFamily(ctx, fam)
			if err != nil {
				t.Fatal(err)
			}
			if !got.ExpiresAt.Equal(sess.ExpiresAt) {
				t.Errorf("family ends %v after now, want with the session, %v", got.ExpiresAt.Sub(now), sess.ExpiresAt.Sub(now))
			}
		})
	}
	t.Run("the session ended", func(t *testing.T) {
		f := newFixture(t)
		g := f.code(t, "conf", confCB, testVerifier, oidc.ScopeOfflineAccess)
		if err := f.st.UpdateAuthRequest(context.Background(), g.authRequestID, func(ar *store.AuthRequest) error {
			ar.SessionID = store.Ref(store.NewID())
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		wantError(t, f.exchange(t, "conf", g), http.StatusBadRequest, "invalid_grant")
	})
}
