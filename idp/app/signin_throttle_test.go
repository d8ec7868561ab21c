package app_test

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// volatile are the parts of a login page that differ from one visitor to
// the next whatever happened: the form token and the pending sign-in.
var volatile = regexp.MustCompile(`name="csrf_token" value="[^"]*"|authRequestID=[A-Za-z0-9_-]+`)

// shape is what a person (or a script) can see of an answer, minus the
// per-visitor tokens and the identifier they typed themselves.
type shape struct {
	status  int
	cookies string
	body    string
}

func shapeOf(t *testing.T, resp *http.Response, typed string) shape {
	t.Helper()
	body := readAll(t, resp)
	body = volatile.ReplaceAllString(body, "…")
	body = strings.ReplaceAll(body, `value="`+html.EscapeString(typed)+`"`, `value="…"`)
	var names []string
	for _, c := range resp.Cookies() {
		names = append(names, c.Name)
	}
	slices.Sort(names)
	return shape{resp.StatusCode, strings.Join(names, ","), body}
}

// auditRecords returns the audit records logged so far, failing if any
// log line is not one JSON record (a forged line would not be).
func auditRecords(t *testing.T, s *stack) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(s.Logs.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not one JSON record: %q", line)
		}
		if rec["audit"] != nil {
			out = append(out, rec)
		}
	}
	return out
}

func countAudit(recs []map[string]any, name, reason string) int {
	n := 0
	for _, r := range recs {
		if r["audit"] == name && (reason == "" || r["reason"] == reason) {
			n++
		}
	}
	return n
}

// TestThrottleSameForUnknownIdentifier: a real account and
// an identifier nobody has go through the same schedule — delays from the
// 5th failure, a lock at the 10th that refuses even the right password —
// with answers identical at every step; 15 minutes later (fake clock) the
// right password works again.
func TestThrottleSameForUnknownIdentifier(t *testing.T) {
	s := startStackWith(t, stackOptions{Config: withThrottle})
	st := s.Sites[0]
	known, unknown := newBrowserless(t, s), newBrowserless(t, s)
	knownURL, _ := known.authorize(st, nil)
	unknownURL, _ := unknown.authorize(st, nil)
	user := testenv.Users()[0]

	post := func(password string) (k, u shape) {
		t.Helper()
		k = shapeOf(t, known.login(knownURL, user.UID, password), user.UID)
		u = shapeOf(t, unknown.login(unknownURL, "nobody.here@example.org", password), "nobody.here@example.org")
		if k != u {
			t.Fatalf("known and unknown identifiers answered differently:\n%d %q\n%s\n---\n%d %q\n%s", k.status, k.cookies, k.body, u.status, u.cookies, u.body)
		}
		return k, u
	}
	for i := 1; i <= 10; i++ {
		k, _ := post(fmt.Sprintf("Wrong-%d", i))
		if k.status != http.StatusOK || !strings.Contains(k.body, "Identifiant ou mot de passe incorrect.") {
			t.Fatalf("failure %d: %d, not the generic message", i, k.status)
		}
		wantDelay := i >= 5 && i < 10
		if got := strings.Contains(k.body, "patientez "+plural(1<<max(i-5, 0), "seconde")); got != wantDelay {
			t.Fatalf("failure %d: delay sentence shown %v, want %v", i, got, wantDelay)
		}
		if i == 5 {
			// Inside the delay the right password is not even tried.
			k, _ := post(user.Password)
			if !strings.Contains(k.body, "patientez 1\u00a0seconde") {
				t.Fatalf("attempt inside the delay: %s", k.body)
			}
		}
		if wantDelay {
			s.Clock.Advance(time.Minute)
		}
	}
	k, _ := post(user.Password) // the 11th, with the right password
	if !strings.Contains(k.body, "suspendue pendant 15\u00a0minutes") || !strings.Contains(k.body, `href="/mot-de-passe-perdu?…"`) {
		t.Fatalf("11th attempt: not the lock message with « Mot de passe perdu »:\n%s", k.body)
	}
	if st.Last() != nil {
		t.Fatal("the site received something")
	}
	recs := auditRecords(t, s)
	if n := countAudit(recs, "signin.lockout", "lock_started"); n != 2 {
		t.Errorf("%d lock_started events, want 2 (one per identifier)", n)
	}
	if n := countAudit(recs, "signin.lockout", "attempt_while_locked"); n != 2 {
		t.Errorf("%d attempt_while_locked events, want 2", n)
	}
	if n := countAudit(recs, "signin.delayed", "attempt_while_delayed"); n != 2 {
		t.Errorf("%d attempt_while_delayed events, want 2", n)
	}
	if n := countAudit(recs, "signin.failure", "invalid_credentials"); n != 20 {
		t.Errorf("%d signin.failure events, want 20", n)
	}

	s.Clock.Advance(15 * time.Minute)
	b := newBrowserless(t, s) // the earlier sign-ins have expired meanwhile
	code, _ := b.code(st, nil)
	if code == "" {
		t.Fatal("no code after the lock")
	}
	if n := countAudit(auditRecords(t, s), "signin.success", ""); n != 1 {
		t.Errorf("%d signin.success events, want 1", n)
	}
}

func plural(n int, word string) string {
	if n > 1 {
		word += "s"
	}
	return fmt.Sprintf("%d\u00a0%s", n, word)
}

// TestThrottlePerAddress: failures from one client address, whatever the
// identifiers, end up blocking that address; X-Forwarded-For counts only
// through a trusted proxy.
func TestThrottlePerAddress(t *testing.T) {
	s := startStackWith(t, stackOptions{Config: func(c *config.Config) {
		withThrottle(c)
		c.Throttle.IP.MaxFailures = 3
	}})
	st := s.Sites[0]
	b := newBrowserless(t, s)
	loginURL, _ := b.authorize(st, nil)
	for i := range 3 {
		resp := b.login(loginURL, fmt.Sprintf("guess-%d", i), "Wrong-1")
		if body := readAll(t, resp); resp.StatusCode != http.StatusOK || !strings.Contains(body, "Identifiant ou mot de passe incorrect.") {
			t.Fatalf("failure %d: %d", i+1, resp.StatusCode)
		}
	}
	user := testenv.Users()[0]
	resp := b.login(loginURL, user.UID, user.Password)
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "depuis votre réseau") || resp.Header.Get("Retry-After") != "900" {
		t.Fatalf("4th attempt from the address: %d Retry-After %q\n%s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if n := countAudit(auditRecords(t, s), "signin.delayed", "network_limit"); n != 1 {
		t.Errorf("%d network_limit events, want 1", n)
	}
	// The provider is not behind a trusted proxy here: a forged header
	// changes nothing.
	if got := postWithXFF(t, b, loginURL, user, "203.0.113.9"); got != http.StatusTooManyRequests {
		t.Errorf("forged X-Forwarded-For: %d, want still 429", got)
	}
	s.Clock.Advance(15 * time.Minute)
	if code, _ := newBrowserless(t, s).code(st, nil); code == "" {
		t.Fatal("no code once the window is over")
	}
}

// TestThrottleBehindTrustedProxy: behind a trusted proxy each client
// address has its own count.
func TestThrottleBehindTrustedProxy(t *testing.T) {
	s := startStackWith(t, stackOptions{Config: func(c *config.Config) {
		withThrottle(c)
		c.Throttle.IP.MaxFailures = 2
		c.TrustedProxies = append(c.TrustedProxies, netip.MustParsePrefix("127.0.0.0/8"))
	}})
	b := newBrowserless(t, s)
	loginURL, _ := b.authorize(s.Sites[0], nil)
	user := testenv.Users()[0]
	wrong := user
	wrong.Password = "Wrong-1"
	for range 2 {
		postWithXFF(t, b, loginURL, wrong, "203.0.113.1")
	}
	if got := postWithXFF(t, b, loginURL, wrong, "203.0.113.1"); got != http.StatusTooManyRequests {
		t.Errorf("third failure of 203.0.113.1: %d, want 429", got)
	}
	if got := postWithXFF(t, b, loginURL, user, "203.0.113.2"); got != http.StatusSeeOther {
		t.Errorf("another client behind the proxy: %d, want a sign-in (303)", got)
	}
	var ips []any
	for _, r := range auditRecords(t, s) {
		ips = append(ips, r["ip"])
	}
	if !slices.Contains(ips, any("203.0.113.1")) || !slices.Contains(ips, any("203.0.113.2")) || slices.Contains(ips, any("127.0.0.1")) {
		t.Errorf("audit ips = %v, want the clients behind the proxy", ips)
	}
}

// postWithXFF posts credentials with an X-Forwarded-For header and returns
// the status.
func postWithXFF(t *testing.T, b *browserless, loginURL string, u testenv.User, xff string) int {
	t.Helper()
	body := readAll(t, b.get(loginURL))
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no form token")
	}
	req, _ := http.NewRequest(http.MethodPost, loginURL, strings.NewReader(url.Values{
		"csrf_token": {m[1]}, "login": {u.UID}, "password": {u.Password},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.s.Issuer)
	req.Header.Set("X-Forwarded-For", xff)
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
