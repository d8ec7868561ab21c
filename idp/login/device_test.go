package login

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestDevices: a token is valid only for the person it was made for, with
// the key it was made with, unaltered and within its lifetime; a browser
// keeps up to five accounts, the newest first, one token each.
func TestDevices(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	d := NewDevices([]byte("0123456789abcdef0123456789abcdef"), true, nil, func() time.Time { return now })
	remember := func(cookie *http.Cookie, subject string) *http.Cookie {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, "/login", nil)
		if cookie != nil {
			r.AddCookie(cookie)
		}
		w := httptest.NewRecorder()
		d.Remember(w, r, subject)
		c := w.Result().Cookies()[0]
		if c.Name != "__Host-idp_device" || !c.HttpOnly || !c.Secure || c.Path != "/" || c.SameSite != http.SameSiteStrictMode {
			t.Fatalf("cookie %+v", c)
		}
		return c
	}
	known := func(c *http.Cookie, subject string) bool {
		r := httptest.NewRequest(http.MethodPost, "/login", nil)
		r.AddCookie(c)
		_, ok := d.Known(r, subject)
		return ok
	}
	c := remember(nil, "sub-alice")
	if strings.Contains(c.Value, "alice") {
		t.Fatalf("the cookie names the person: %q", c.Value)
	}
	if !known(c, "sub-alice") || known(c, "sub-bob") {
		t.Fatal("token not bound to its person")
	}
	tampered := *c
	tampered.Value = c.Value[:len(c.Value)-2] + "AA"
	if known(&tampered, "sub-alice") {
		t.Fatal("altered token accepted")
	}
	other := NewDevices([]byte("another key, another deployment!"), true, nil, func() time.Time { return now })
	r := httptest.NewRequest(http.MethodPost, "/login", nil)
	r.AddCookie(c)
	if _, ok := other.Known(r, "sub-alice"); ok {
		t.Fatal("token accepted under another key")
	}
	// After a cookie key rotation, the replaced key's tokens are known
	// while it is kept.
	rotated := NewDevices([]byte("another key, another deployment!"), true, nil, func() time.Time { return now }).
		AcceptPrevious([][]byte{[]byte("0123456789abcdef0123456789abcdef")})
	if _, ok := rotated.Known(r, "sub-alice"); !ok {
		t.Fatal("token of the previous key refused")
	}
	for _, s := range []string{"sub-bob", "sub-carol", "sub-dan", "sub-erin", "sub-alice"} {
		c = remember(c, s)
	}
	if n := strings.Count(c.Value, ".") + 1; n != 5 {
		t.Fatalf("%d tokens, want 5", n)
	}
	for _, s := range []string{"sub-alice", "sub-bob", "sub-carol", "sub-dan", "sub-erin"} {
		if !known(c, s) {
			t.Errorf("%s forgotten", s)
		}
	}
	c = remember(c, "sub-frank") // the oldest (bob) goes
	if known(c, "sub-bob") || !known(c, "sub-frank") || !known(c, "sub-alice") {
		t.Error("not the oldest dropped")
	}
	now = now.Add(DeviceLifetime + time.Second)
	if known(c, "sub-frank") {
		t.Error("expired token accepted")
	}
}
