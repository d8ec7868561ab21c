package app_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestCodeRedeemedTwiceAtOnce: a stolen code and verifier redeemed at the
// same moment as the site redeems them. One redemption wins, the other is
// a replay, and a replay revokes what the code gave, however the two
// interleave: with offline_access too, where the refresh family is written
// after the code is spent. A replay by another client, which cannot have
// the code legitimately, revokes nothing.
func TestCodeRedeemedTwiceAtOnce(t *testing.T) {
	s := startStack(t)
	st := s.Sites[0]
	cb := st.URL + "/callback"
	const rounds = 10
	for _, scope := range []string{"openid email", "openid email offline_access"} {
		t.Run(scope, func(t *testing.T) {
			for range rounds {
				code, verifier := newBrowserless(t, s).code(st, url.Values{"scope": {scope}})
				answers := make([]tokenAnswer, 2)
				var wg sync.WaitGroup
				for i := range answers {
					wg.Go(func() { answers[i] = s.token(t, st, codeForm(code, verifier, cb), true) })
				}
				wg.Wait()
				var won *tokenAnswer
				for i, a := range answers {
					if a.status == http.StatusOK {
						if won != nil {
							t.Fatal("both redemptions got tokens")
						}
						won = &answers[i]
					} else if a.body["error"] != "invalid_grant" {
						t.Fatalf("the other redemption: %d %v", a.status, a.body)
					}
				}
				if won == nil {
					continue // both refused: nothing was given
				}
				if got := s.userinfo(t, won.body["access_token"].(string)); got == http.StatusOK {
					t.Errorf("the winner's access token works after the replay")
				}
				if rt, ok := won.body["refresh_token"].(string); ok {
					if a := s.token(t, st, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, true); a.body["error"] != "invalid_grant" {
						t.Errorf("the winner's refresh token works after the replay: %d", a.status)
					}
				} else if strings.Contains(scope, "offline_access") {
					t.Fatalf("no refresh token: %v", won.body)
				}
			}
		})
	}
	t.Run("another client's replay", func(t *testing.T) {
		code, verifier := newBrowserless(t, s).code(st, url.Values{"scope": {"openid email offline_access"}})
		answers := make([]tokenAnswer, 2)
		var wg sync.WaitGroup
		wg.Go(func() { answers[0] = s.token(t, st, codeForm(code, verifier, cb), true) })
		wg.Go(func() { answers[1] = s.token(t, s.Sites[1], codeForm(code, verifier, cb), true) })
		wg.Wait()
		if answers[0].status != http.StatusOK || answers[1].status == http.StatusOK {
			t.Fatalf("the site: %d; the other client: %d", answers[0].status, answers[1].status)
		}
		rt := answers[0].body["refresh_token"].(string)
		if a := s.token(t, st, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, true); a.status != http.StatusOK {
			t.Errorf("another client's replay revoked the site's tokens: %d %v", a.status, a.body["error"])
		}
	})
}

// TestCodeReplayByAnotherClientMidRedemption: while the site's redemption
// (with offline_access) is between spending the code and recording its
// tokens, another client presents the code with a wrong verifier. That is
// no replay by the code's owner: the site's tokens must survive it,
// whichever way the two interleave. The order is forced: the other
// client reads the grant (nothing yet), then the site records it, then
// the other client writes.
func TestCodeReplayByAnotherClientMidRedemption(t *testing.T) {
	order := &grantOrder{replayRead: make(chan struct{}), siteSaved: make(chan struct{})}
	s := startStackWith(t, stackOptions{RedisHook: order})
	st, other := s.Sites[0], s.Sites[1]
	cb := st.URL + "/callback"
	code, verifier := newBrowserless(t, s).code(st, url.Values{"scope": {"openid email offline_access"}})

	var site tokenAnswer
	var wg sync.WaitGroup
	wg.Go(func() { site = s.token(t, st, codeForm(code, verifier, cb), true) })
	<-order.siteAtSave()
	bogus := s.token(t, other, codeForm(code, verifier+"x", cb), true)
	wg.Wait()
	if site.status != http.StatusOK || bogus.status == http.StatusOK {
		t.Fatalf("the site: %d %v; the other client: %d", site.status, site.body["error"], bogus.status)
	}
	rt := site.body["refresh_token"].(string)
	if a := s.token(t, st, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, true); a.status != http.StatusOK {
		t.Errorf("another client's bogus replay revoked the site's tokens: %d %v", a.status, a.body["error"])
	}
}

// grantOrder orders the commands on grant records: the first SET NX (the
// redemption recording its tokens) waits until a GET (the replay looking
// for them) has run; later SET NX wait until that first one is done.
type grantOrder struct {
	n                     atomic.Int32
	atSave                chan struct{}
	atSaveOnce, readOnce  sync.Once
	savedOnce             sync.Once
	replayRead, siteSaved chan struct{}
}

func (g *grantOrder) siteAtSave() chan struct{} {
	g.atSaveOnce.Do(func() { g.atSave = make(chan struct{}) })
	return g.atSave
}

func (g *grantOrder) DialHook(next redis.DialHook) redis.DialHook { return next }

func (g *grantOrder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		key, _ := cmd.Args()[min(1, len(cmd.Args())-1)].(string)
		if !strings.Contains(key, ":grant:") {
			return next(ctx, cmd)
		}
		switch name := cmd.Name(); {
		case name == "get":
			err := next(ctx, cmd)
			g.readOnce.Do(func() { close(g.replayRead) })
			return err
		case name == "set" && slices.ContainsFunc(cmd.Args(), func(a any) bool { s, _ := a.(string); return strings.EqualFold(s, "nx") }):
			if g.n.Add(1) == 1 {
				close(g.siteAtSave())
				<-g.replayRead
				err := next(ctx, cmd)
				g.savedOnce.Do(func() { close(g.siteSaved) })
				return err
			}
			<-g.siteSaved
		}
		return next(ctx, cmd)
	}
}

func (g *grantOrder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
