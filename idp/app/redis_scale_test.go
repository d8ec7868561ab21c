package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

func onCluster(t testing.TB) config.Redis {
	return config.Redis{Addrs: testenv.StartRedisCluster(t).Addrs}
}

func onSentinel(t testing.TB) config.Redis {
	rs := testenv.StartRedisSentinel(t)
	return config.Redis{Addrs: rs.Sentinels, MasterName: rs.MasterName}
}

// TestRedisAtScale: a sign-in (throttle on) and a whole password reset
// (mail outbox, change queue, ldapsync, completion) with the provider
// configured for a
// Redis Cluster (every script and transaction must keep to one slot, else
// CROSSSLOT) and for Sentinel.
func TestRedisAtScale(t *testing.T) {
	for _, tc := range []struct {
		name  string
		redis func(t testing.TB) config.Redis
	}{
		{"cluster", onCluster},
		{"sentinel", onSentinel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startStackWith(t, stackOptions{Redis: tc.redis, Config: withThrottle})
			u := testenv.Users()[0]
			_, tokens := signedIn(t, s, s.Sites[0], url.Values{"scope": {"openid email offline_access"}})
			if tokens["id_token"] == nil || tokens["refresh_token"] == nil {
				t.Fatalf("token answer without id or refresh token: %v", tokens)
			}
			waitPolicies(t, s, 1)
			r := verifiedReset(t, s, u.Mail)
			const fresh = "Une phrase pour la grappe Redis"
			if path, _ := r.setPassword(fresh, fresh); path != "/mot-de-passe-perdu/termine" {
				t.Fatalf("reset ended at %s", path)
			}
			if !binds(t, s, u.UID, fresh) {
				t.Fatal("the new password does not sign in")
			}
		})
	}
}

// TestSentinelFailoverDuringSignIns: sign-ins run in a loop while the
// Sentinels promote the replica. The provider follows the new primary by
// itself, answers a French page (503, never 500) while it cannot write,
// and the password change queued just before the failover (its second
// directory down, so that the job is still in Redis) is applied once that
// directory is back.
func TestSentinelFailoverDuringSignIns(t *testing.T) {
	for _, tc := range []struct {
		name     string
		failover func(rs *testenv.RedisSentinel, ctx context.Context) (string, error)
	}{
		{"SENTINEL FAILOVER", (*testenv.RedisSentinel).Failover},
		{"primary killed", (*testenv.RedisSentinel).KillPrimary},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testFailoverDuringSignIns(t, tc.failover)
		})
	}
}

func testFailoverDuringSignIns(t *testing.T, failover func(*testenv.RedisSentinel, context.Context) (string, error)) {
	var rs *testenv.RedisSentinel
	s := startStackWith(t, stackOptions{
		Second: &testenv.SlapdOptions{},
		Redis: func(t testing.TB) config.Redis {
			rs = testenv.StartRedisSentinel(t)
			return config.Redis{Addrs: rs.Sentinels, MasterName: rs.MasterName}
		},
	})
	waitPolicies(t, s, 2)

	// The change: written to the first directory, waiting for the second.
	changer := testenv.Users()[0]
	s.Second.Stop(t)
	r := verifiedReset(t, s, changer.Mail)
	const fresh = "Une phrase qui survit à la bascule"
	waiting(t, r, fresh)

	// Sign-ins of another person, from now until a while after the failover.
	signer := testenv.Users()[1]
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var (
		mu       sync.Mutex
		failed   int
		after    int // sign-ins completed after the failover
		problems []string
		switched bool
	)
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		for ctx.Err() == nil {
			err := rawSignIn(ctx, s, signer)
			mu.Lock()
			switch {
			case err == nil && switched:
				after++
			case err != nil:
				failed++
				if !isTolerated(err) {
					problems = append(problems, err.Error())
				}
			}
			stop := after >= 5
			mu.Unlock()
			if stop {
				return
			}
		}
	}()
	time.Sleep(300 * time.Millisecond)
	old, _ := rs.Primary(ctx)
	now, err := failover(rs, ctx)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	switched = true
	mu.Unlock()
	t.Logf("primary moved from %s to %s", old, now)
	<-loopDone

	mu.Lock()
	if after < 5 {
		t.Errorf("only %d sign-ins completed after the failover", after)
	}
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("%d sign-ins failed (unavailable, or their pending request lost) during the failover", failed)
	mu.Unlock()

	// The queued change is still there: once the second directory is
	// back, it is applied to both.
	s.Second.Start(t)
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		page := r.get(s.Issuer + "/mot-de-passe-perdu/attente")
		page.Body.Close()
		loc := page.Header.Get("Location")
		return page.StatusCode == http.StatusSeeOther && loc == "/mot-de-passe-perdu/termine",
			fmt.Sprintf("waiting screen: %d to %q", page.StatusCode, loc)
	})
	if !s.Slapd.Binds(t, changer.UID, fresh) || !s.Second.Binds(t, changer.UID, fresh) {
		t.Fatal("the change queued before the failover is not in both directories")
	}
}

// unavailable is a sign-in step answered 503 with a French page: what the
// provider may say while Redis fails over.
type unavailable struct{ step string }

func (u unavailable) Error() string { return u.step + ": 503" }

// lostSignIn is a sign-in whose pending request or code the failover lost
// (written to the old primary and not yet replicated): the French page
// that asks to start again, or invalid_grant at the token endpoint; what
// the README says a failover may cost.
type lostSignIn struct{ step string }

func (l lostSignIn) Error() string { return l.step + ": pending sign-in lost (400)" }

func isTolerated(err error) bool {
	switch err.(type) {
	case unavailable, lostSignIn:
		return true
	}
	return false
}

var langFR = regexp.MustCompile(`<html[^>]* lang="fr"`)

// rawSignIn runs one code flow (authorize, login form, callback, token)
// without testing.T, for a goroutine. It returns unavailable for a French
// 503, and an error for anything else that is not a success.
func rawSignIn(ctx context.Context, s *stack, u testenv.User) error {
	jar, _ := cookiejar.New(nil)
	c := noRedirect()
	c.Jar = jar
	st := s.Sites[0]
	do := func(step string, req *http.Request) (*http.Response, string, error) {
		resp, err := c.Do(req.WithContext(ctx))
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", step, err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		body := b.String()
		if resp.StatusCode == http.StatusBadRequest && step == "login" && langFR.MatchString(body) && strings.Contains(body, "Connexion expirée") {
			return nil, "", lostSignIn{step}
		}
		if resp.StatusCode >= 500 {
			if resp.StatusCode == http.StatusServiceUnavailable && (langFR.MatchString(body) || strings.Contains(body, "temporarily_unavailable")) {
				return nil, "", unavailable{step}
			}
			return nil, "", fmt.Errorf("%s: %d %.200q", step, resp.StatusCode, body)
		}
		return resp, body, nil
	}
	get := func(step, u string) (*http.Response, string, error) {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		return do(step, req)
	}
	verifier := oauth2.GenerateVerifier()
	q := url.Values{
		"client_id": {st.ClientID}, "redirect_uri": {st.URL + "/callback"}, "response_type": {"code"},
		"scope": {"openid email"}, "state": {"st4te"}, "nonce": {"n0nce"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
	}
	resp, body, err := get("authorize", s.Issuer+"/authorize?"+q.Encode())
	if err != nil {
		return err
	}
	loc := resp.Header.Get("Location")
	if strings.HasPrefix(loc, st.URL+"/callback?") && strings.Contains(loc, "error=temporarily_unavailable") {
		return unavailable{"authorize"}
	}
	loginURL, ok := loginAction(s.Issuer, body)
	m := csrfField.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || !ok || m == nil {
		return fmt.Errorf("authorize: %d without the login form (Location %q)", resp.StatusCode, loc)
	}
	req, _ := http.NewRequest(http.MethodPost, loginURL, strings.NewReader(url.Values{
		"csrf_token": {m[1]}, "login": {u.UID}, "password": {u.Password},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, _, err = do("login", req); err != nil {
		return err
	}
	loc = resp.Header.Get("Location")
	for range 5 {
		if strings.HasPrefix(loc, st.URL+"/callback?") {
			break
		}
		if strings.HasPrefix(loc, "/") {
			loc = s.Issuer + loc
		}
		if !strings.HasPrefix(loc, s.Issuer+"/") {
			return fmt.Errorf("login: %d to %q", resp.StatusCode, loc)
		}
		if resp, _, err = get("redirect", loc); err != nil {
			return err
		}
		loc = resp.Header.Get("Location")
	}
	cb, err := url.Parse(loc)
	if err != nil || cb.Query().Get("code") == "" {
		if strings.Contains(loc, "error=temporarily_unavailable") {
			return unavailable{"callback"}
		}
		return fmt.Errorf("no code in %q", loc)
	}
	req, _ = http.NewRequest(http.MethodPost, s.Issuer+"/oauth/token", strings.NewReader(
		codeForm(cb.Query().Get("code"), verifier, st.URL+"/callback").Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(st.ClientID), url.QueryEscape(st.Secret))
	resp, body, err = do("token", req)
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusBadRequest && strings.Contains(body, `"invalid_grant"`) {
		// The code was written to the old primary and not yet replicated.
		return lostSignIn{"token"}
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"id_token"`) {
		return fmt.Errorf("token: %d %.200q", resp.StatusCode, body)
	}
	return nil
}
