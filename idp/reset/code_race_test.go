package reset_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/reset"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestParallelWrongCodesSuspendAtTheLimit: wrong codes sent at once over
// several live flows, each with its own five tries, are compared no more
// than AccountFailures times, per typed address and per person across
// addresses; the others get the suspended page, as they would one at a
// time. Otherwise a burst over a few flows tried 15 codes, or 30, where
// the rules allow 10.
//
// It runs over miniredis, a real redis-server and a Cluster whose keys
// spread over its masters, where the address's and the person's counters
// are checked apart.
func TestParallelWrongCodesSuspendAtTheLimit(t *testing.T) {
	t.Parallel()
	backends := []struct {
		name   string
		client func(t *testing.T) redis.UniversalClient
	}{
		{"miniredis", func(t *testing.T) redis.UniversalClient { _, c := testenv.Miniredis(t); return c }},
		{"redis", func(t *testing.T) redis.UniversalClient { return testenv.StartRedis(t).Client(t) }},
		{"cluster", func(t *testing.T) redis.UniversalClient { return testenv.StartRedisCluster(t).Client(t) }},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			c := b.client(t)
			parallelWrongCodes(t, func(t *testing.T) *fixture {
				return newFixtureOn(t, start, c, "t-"+store.NewID()+":", func(cfg *reset.Config) { cfg.Limits = reset.DefaultLimits })
			})
		})
	}
}

func parallelWrongCodes(t *testing.T, newFixture func(t *testing.T) *fixture) {
	for _, tc := range []struct {
		name      string
		addresses []string
		subject   string // the account the flows know, "" for none
	}{
		{"one address without an account", []string{"personne@example.org"}, ""},
		{"one address of an account", []string{"marie@example.org"}, "sub-marie"},
		{"two addresses of one account", []string{"marie@example.org", "m.durand@example.org"}, "sub-marie"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			tries := reset.DefaultLimits.CodeTries
			var cookies []*http.Cookie
			for _, address := range tc.addresses {
				for range 3 {
					cookies = append(cookies, f.flowOf(address, tc.subject))
				}
			}
			var (
				ready, done sync.WaitGroup
				barrier     = make(chan struct{})
				mu          sync.Mutex
				answers     = map[string]int{}
			)
			for _, c := range cookies {
				for range tries {
					ready.Add(1)
					done.Add(1)
					go func() {
						defer done.Done()
						ready.Done()
						<-barrier
						got := f.codeAnswer(c)
						mu.Lock()
						answers[got]++
						mu.Unlock()
					}()
				}
			}
			ready.Wait()
			close(barrier)
			done.Wait()
			sent := len(cookies) * tries
			limit := reset.DefaultLimits.AccountFailures
			if answers["wrong"] > limit || answers["wrong"]+answers["suspended"] != sent {
				t.Errorf("%d wrong codes sent at once: %v; want at most %d compared (\"wrong\"), the others suspended",
					sent, answers, limit)
			}
			// The burst left the address suspended, as one at a time would.
			if got := f.code(f.flowOf(tc.addresses[0], tc.subject)); got != "suspended" {
				t.Errorf("after the burst: %s, want suspended", got)
			}
		})
	}
}

// flowOf is flow for an address the flow matched to subject ("" for an
// address without an account).
func (f *fixture) flowOf(address, subject string) *http.Cookie {
	now := f.clock.Now()
	fl := &store.ResetFlow{ID: store.NewID(), Email: address, Subject: subject, CreatedAt: now,
		ExpiresAt: now.Add(72 * time.Hour), CodeHash: "nobody's code", CodesSent: 1, CodeExpiresAt: now.Add(72 * time.Hour)}
	if subject != "" {
		fl.Login, fl.Mail = "login", address
	}
	if err := f.st.SaveResetFlow(f.t.Context(), fl); err != nil {
		f.t.Fatal(err)
	}
	return &http.Cookie{Name: "idp_reset", Value: fl.ID}
}

// codeAnswer is code for any goroutine: what the page said, or what it
// was when it said neither.
func (f *fixture) codeAnswer(c *http.Cookie) string {
	form := url.Values{"csrf_token": {"t"}, "code": {"ZZZZZZ"}}
	req := httptest.NewRequest(http.MethodPost, "/mot-de-passe-perdu/code", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(c)
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	body := w.Body.String()
	switch {
	case strings.Contains(body, "Trop de codes incorrects"):
		return "suspended"
	case strings.Contains(body, "incorrect ou a expiré"):
		return "wrong"
	}
	if len(body) > 200 {
		body = body[:200]
	}
	return w.Result().Status + " " + body
}

// TestRightCodeCountsNothing: a wrong code is counted before it is
// compared, and a right one takes its count back. Nine wrong codes, then
// the right one: the next wrong code is the tenth, which suspends; had
// the right one stayed counted, that code would be refused unread.
func TestRightCodeCountsNothing(t *testing.T) {
	t.Parallel()
	j := newJourney(t)
	typeCode := func(v *testenv.Visitor, code string) string {
		t.Helper()
		a := j.post(v, lost+"/code", lost+"/code", url.Values{"code": {code}})
		switch {
		case a.Location == lost+"/nouveau":
			return "accepted"
		case strings.Contains(a.Body, "Trop de codes incorrects"):
			return "suspended"
		case strings.Contains(a.Body, "incorrect ou a expiré"):
			return "wrong"
		}
		t.Fatalf("unexpected code page: %d %.300s", a.Status, a.Body)
		return ""
	}
	first, _ := j.asked(demoMail)
	for i := range reset.DefaultLimits.CodeTries {
		if got := typeCode(first, "ZZZZZZ"); got != "wrong" {
			t.Fatalf("wrong code %d: %s", i+1, got)
		}
	}
	second, _ := j.asked(demoMail)
	code, _ := j.mails.last(t)
	for i := range reset.DefaultLimits.AccountFailures - 1 - reset.DefaultLimits.CodeTries {
		if got := typeCode(second, "ZZZZZZ"); got != "wrong" {
			t.Fatalf("wrong code %d in the second flow: %s", i+1, got)
		}
	}
	if got := typeCode(second, code); got != "accepted" {
		t.Fatalf("the right code after 9 wrong: %s", got)
	}
	third, _ := j.asked(demoMail)
	if got := typeCode(third, "ZZZZZZ"); got != "wrong" {
		t.Fatalf("the tenth wrong code: %s, want it compared", got)
	}
	if got := typeCode(third, "ZZZZZZ"); got != "suspended" {
		t.Fatalf("after the tenth wrong code: %s, want suspended", got)
	}
}
