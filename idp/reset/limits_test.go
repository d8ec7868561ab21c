package reset_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
	"github.com/region-nouvelle-aquitaine/idp/idp/reset"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
)

type anyForm struct{}

func (anyForm) Token(http.ResponseWriter, *http.Request, string) string { return "t" }
func (anyForm) Valid(*http.Request, string, string) bool                { return true }

// nobody knows no address: every code typed is wrong and counted, and
// lookups tell how many requests got past the limits.
type nobody struct{ lookups atomic.Int32 }

func (n *nobody) FindByMail(context.Context, string) (ldapauth.User, bool, error) {
	n.lookups.Add(1)
	return ldapauth.User{}, false, nil
}

// manyTries is DefaultLimits but for a code's tries: these tests count
// failures over the windows, not a code's five strikes.
var manyTries = func() reset.Limits { l := reset.DefaultLimits; l.CodeTries = 1 << 20; return l }()

type fixture struct {
	t     *testing.T
	h     *reset.Handler
	st    *store.Store
	clock *testenv.Clock // set forward only in these tests
	dir   *nobody
}

// newFixture serves the journey over miniredis with the clock at start.
func newFixture(t *testing.T, start time.Time) *fixture {
	return newFixtureWith(t, start, nil)
}

// newFixtureWith is newFixture with edit applied to the handler's
// configuration (nil: none).
func newFixtureWith(t *testing.T, start time.Time, edit func(*reset.Config)) *fixture {
	m := miniredis.RunT(t)
	c := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{m.Addr()}})
	t.Cleanup(func() { _ = c.Close() })
	return newFixtureOn(t, start, c, "", func(cfg *reset.Config) {
		cfg.Limits = manyTries
		if edit != nil {
			edit(cfg)
		}
	})
}

// newFixtureOn serves the journey over c with its own key prefix ("" for
// the default), its configuration changed by edit: a directory that
// knows nobody, every form token valid, and whatever edit sets.
func newFixtureOn(t *testing.T, start time.Time, c redis.UniversalClient, prefix string, edit func(*reset.Config)) *fixture {
	clock := testenv.NewClock(start)
	st := store.New(store.Options{Client: c, Prefix: prefix, Now: clock.Now})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f := &fixture{t: t, st: st, clock: clock, dir: &nobody{}}
	cfg := reset.Config{
		Store: st, Accounts: f.dir, Forms: anyForm{}, Pages: &web.Pages{Log: log},
		Key: []byte("k"), Path: "/mot-de-passe-perdu",
		Now: clock.Now, Log: log,
	}
	edit(&cfg)
	f.h = reset.New(cfg)
	return f
}

// flow starts a flow for address, with the code an address without an
// account gets (that nobody receives), and returns its cookie. It lasts
// long past the 15 minutes of a real one, and its code takes as many
// tries as the tests make, so that one flow sees the windows out.
func (f *fixture) flow(address string) *http.Cookie {
	now := f.clock.Now()
	fl := &store.ResetFlow{ID: store.NewID(), Email: address, CreatedAt: now, ExpiresAt: now.Add(72 * time.Hour),
		CodeHash: "nobody's code", CodesSent: 1, CodeExpiresAt: now.Add(72 * time.Hour)}
	if err := f.st.SaveResetFlow(f.t.Context(), fl); err != nil {
		f.t.Fatal(err)
	}
	return &http.Cookie{Name: "idp_reset", Value: fl.ID}
}

func (f *fixture) do(method, path string, c *http.Cookie, form url.Values) (int, string) {
	f.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(c)
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	f.h.Wait()
	return w.Code, w.Body.String()
}

func (f *fixture) code(c *http.Cookie) string {
	f.t.Helper()
	_, body := f.do(http.MethodPost, "/mot-de-passe-perdu/code", c, url.Values{"csrf_token": {"t"}, "code": {"ZZZZZZ"}})
	switch {
	case strings.Contains(body, "Trop de codes incorrects"):
		return "suspended"
	case strings.Contains(body, "incorrect ou a expiré"):
		return "wrong"
	}
	f.t.Fatalf("unexpected code page: %.300s", body)
	return ""
}

// The clock starts one minute before a quarter and an hour: where fixed
// windows used to start afresh.
var start = time.Date(2031, time.March, 4, 4, 59, 0, 0, time.UTC)

// TestWrongCodesSuspendForAnHour: the wrong code that makes 10 in 24 h
// suspends code checks for one hour, and each wrong code after it while
// the 10 stay in the window suspends for another hour.
func TestWrongCodesSuspendForAnHour(t *testing.T) {
	f := newFixture(t, start)
	c := f.flow("personne@example.org")
	for i := range 10 {
		f.clock.Set(start.Add(time.Duration(i) * time.Minute))
		if got := f.code(c); got != "wrong" {
			t.Fatalf("wrong code %d: %s", i+1, got)
		}
	}
	tenth := start.Add(9 * time.Minute)
	// A new flow for the same address (a new code) does not lift it.
	c = f.flow("personne@example.org")
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{tenth, "suspended"},
		{tenth.Add(time.Hour - time.Millisecond), "suspended"},
		{tenth.Add(time.Hour), "wrong"}, // the 11th failure in 24 h: another hour
		{tenth.Add(time.Hour), "suspended"},
		{tenth.Add(2*time.Hour - time.Millisecond), "suspended"},
		{tenth.Add(2 * time.Hour), "wrong"},
		{tenth.Add(2 * time.Hour), "suspended"},
	} {
		f.clock.Set(tc.at)
		if got := f.code(c); got != tc.want {
			t.Fatalf("at +%v: %s, want %s", tc.at.Sub(start), got, tc.want)
		}
	}
	// Once the window has moved past all of them, 9 failures go by
	// before the 10th suspends again.
	later := tenth.Add(2*time.Hour + 24*time.Hour)
	f.clock.Set(later)
	c = f.flow("personne@example.org")
	for i := range 10 {
		if got := f.code(c); got != "wrong" {
			t.Fatalf("a day later, wrong code %d: %s", i+1, got)
		}
	}
	if got := f.code(c); got != "suspended" {
		t.Fatalf("a day later, after 10 failures: %s", got)
	}
}

// TestRequestLimitsSlide: 3 requests for one address in 15 minutes, even
// across a quarter; a refused request neither sends nor delays; the code
// page says when the next one can be asked.
func TestRequestLimitsSlide(t *testing.T) {
	f := newFixture(t, start)
	c := f.flow("personne@example.org")
	ask := func(at time.Duration) (lookups int32, page string) {
		t.Helper()
		f.clock.Set(start.Add(at))
		status, _ := f.do(http.MethodPost, "/mot-de-passe-perdu/renvoyer", c, url.Values{"csrf_token": {"t"}})
		if status != http.StatusSeeOther {
			t.Fatalf("resend at +%v: %d", at, status)
		}
		_, page = f.do(http.MethodGet, "/mot-de-passe-perdu/code", c, nil)
		return f.dir.lookups.Load(), page
	}
	const cooldown = "Vous pourrez demander un nouveau code dans "
	for i := range 3 {
		if n, _ := ask(0); n != int32(i+1) {
			t.Fatalf("request %d: %d lookups", i+1, n)
		}
	}
	for _, tc := range []struct {
		at      time.Duration
		lookups int32
		wait    string
	}{
		{2 * time.Minute, 3, "13\u00a0minutes"}, // 05:01, a fixed window would start afresh: refused
		{10 * time.Minute, 3, "5\u00a0minutes"}, // refused again: the wait does not grow
		{15 * time.Minute, 4, ""},               // the three left together
		{16 * time.Minute, 5, ""},
		{17 * time.Minute, 6, "13\u00a0minutes"}, // full again until the one of +15 leaves
		{18 * time.Minute, 6, "12\u00a0minutes"},
	} {
		n, page := ask(tc.at)
		_, said, _ := strings.Cut(page, cooldown)
		said, _, _ = strings.Cut(said, ".")
		if n != tc.lookups || said != tc.wait {
			t.Fatalf("at +%v: %d lookups, want %d; cooldown %q, want %q", tc.at, n, tc.lookups, said, tc.wait)
		}
	}
}

// TestFullDayHoldsNoShortPlace: requests refused because the address had
// its 10 mails of the day take no place in the 15-minute window, so the
// next code goes as soon as the day has room.
func TestFullDayHoldsNoShortPlace(t *testing.T) {
	f := newFixture(t, start)
	c := f.flow("personne@example.org")
	ask := func(at time.Duration) int32 {
		t.Helper()
		f.clock.Set(start.Add(at))
		f.do(http.MethodPost, "/mot-de-passe-perdu/renvoyer", c, url.Values{"csrf_token": {"t"}})
		return f.dir.lookups.Load()
	}
	for i, at := range []time.Duration{0, 0, 0, 15 * time.Minute, 15 * time.Minute, 15 * time.Minute,
		30 * time.Minute, 30 * time.Minute, 30 * time.Minute, 45 * time.Minute} {
		if n := ask(at); n != int32(i+1) {
			t.Fatalf("request %d: %d lookups", i+1, n)
		}
	}
	for range 3 {
		if n := ask(24*time.Hour - 5*time.Minute); n != 10 {
			t.Fatalf("an 11th request in 24 h was let through: %d lookups", n)
		}
	}
	_, page := f.do(http.MethodGet, "/mot-de-passe-perdu/code", c, nil)
	if !strings.Contains(page, "Vous pourrez demander un nouveau code dans 5\u00a0minutes") {
		t.Error("the code page does not say when the day has room again")
	}
	if n := ask(24 * time.Hour); n != 11 {
		t.Fatalf("once the first mail of the day left the window: %d lookups, want 11", n)
	}
}
