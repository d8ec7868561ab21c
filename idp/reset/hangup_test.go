package reset_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/reset"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
)

// hangUpAfterStrike ends the request's context right after a failure is
// struck, as net/http does when the client hangs up.
type hangUpAfterStrike struct {
	*store.Store
	hangUp context.CancelFunc
}

func (s *hangUpAfterStrike) Strike(ctx context.Context, names []string, rule store.StrikeRule) (*store.Strike, time.Time, error) {
	st, until, err := s.Store.Strike(ctx, names, rule)
	if s.hangUp != nil {
		s.hangUp()
	}
	return st, until, err
}

// TestHangUpLeavesNoFailure: codes typed in a flow that has no code
// (its request held back) count nowhere, even when the client hangs up
// while the code is being checked: the failure struck before the
// comparison is still taken back. Otherwise a stranger suspends an
// address's codes by hanging up, without a mail or a try spent.
func TestHangUpLeavesNoFailure(t *testing.T) {
	var st *hangUpAfterStrike
	f := newFixtureWith(t, start, func(cfg *reset.Config) {
		st = &hangUpAfterStrike{Store: cfg.Store.(*store.Store)}
		cfg.Store = st
	})
	h := f.h
	now := f.clock.Now()
	held := &store.ResetFlow{ID: store.NewID(), Email: "victime@example.org", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := st.SaveResetFlow(t.Context(), held); err != nil {
		t.Fatal(err)
	}
	post := func(hangUp bool) string {
		t.Helper()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		st.hangUp = nil
		if hangUp {
			st.hangUp = cancel
		}
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/mot-de-passe-perdu/code",
			strings.NewReader(url.Values{"csrf_token": {"t"}, "code": {"ZZZZZZ"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: "idp_reset", Value: held.ID})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Body.String()
	}
	for range 2 * manyTries.AccountFailures {
		post(true)
	}
	if body := post(false); strings.Contains(body, "Trop de codes incorrects") {
		t.Fatal("hang-ups in a flow without a code suspended the address's codes")
	}
}
