package testenv

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// Visitor drives an http.Handler in-process as one browser would, for fast
// handler tests without a server or Chromium: it keeps the cookies the
// handler sets (a negative MaxAge removes one) and sends them back. It
// follows no redirect: tests look at where they lead.
type Visitor struct {
	t    testing.TB
	h    http.Handler
	base string

	mu  sync.Mutex
	jar map[string]*http.Cookie
}

// Answer is what the handler sent back.
type Answer struct {
	Status   int
	Location string
	Header   http.Header
	Cookies  []*http.Cookie // set by this answer
	Body     string
}

// NewVisitor returns a visitor of h; base ("https://idp.example" or
// "http://localhost:8080") starts every request's URL.
func NewVisitor(t testing.TB, h http.Handler, base string) *Visitor {
	return &Visitor{t: t, h: h, base: strings.TrimSuffix(base, "/"), jar: map[string]*http.Cookie{}}
}

// Get requests path (with its query).
func (v *Visitor) Get(path string) Answer {
	v.t.Helper()
	return v.Do(httptest.NewRequest(http.MethodGet, v.base+path, nil))
}

// Post sends form to path, url-encoded.
func (v *Visitor) Post(path string, form url.Values) Answer {
	v.t.Helper()
	r := httptest.NewRequest(http.MethodPost, v.base+path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return v.Do(r)
}

// Do sends r with the visitor's cookies and keeps those of the answer.
func (v *Visitor) Do(r *http.Request) Answer {
	v.t.Helper()
	v.mu.Lock()
	for _, c := range v.jar {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	v.mu.Unlock()
	w := httptest.NewRecorder()
	v.h.ServeHTTP(w, r)
	resp := w.Result()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		v.t.Fatalf("testenv: read answer: %v", err)
	}
	a := Answer{Status: resp.StatusCode, Location: resp.Header.Get("Location"), Header: resp.Header, Cookies: resp.Cookies(), Body: string(body)}
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, c := range a.Cookies {
		if c.MaxAge < 0 || c.Value == "" {
			delete(v.jar, c.Name)
			continue
		}
		v.jar[c.Name] = c
	}
	return a
}

// Cookie returns the visitor's cookie name, or nil.
func (v *Visitor) Cookie(name string) *http.Cookie {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.jar[name]
}

// SetCookie gives the visitor a cookie (a link opened in another browser,
// a forged value).
func (v *Visitor) SetCookie(c *http.Cookie) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.jar[c.Name] = c
}

// DropCookie removes the visitor's cookie name.
func (v *Visitor) DropCookie(name string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.jar, name)
}

var formToken = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)

// FormToken returns the anti-forgery token of the first form in body, or "".
func FormToken(body string) string {
	if m := formToken.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}
