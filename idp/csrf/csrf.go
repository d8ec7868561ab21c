// Package csrf protects the provider's forms: browsers' Fetch
// Metadata and Origin are checked by net/http's CrossOriginProtection,
// and every form also carries a token bound to this browser and to the
// form's purpose (a pending sign-in, say), so a token lifted from one
// browser or one form is worth nothing elsewhere — which also stops login
// CSRF.
package csrf

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

// Protector issues and checks form tokens.
type Protector struct {
	key      []byte
	previous [][]byte
	cookie   string
	secure   bool
}

// Config configures a Protector.
type Config struct {
	// Key is the HMAC key (≥ 32 bytes), identical on every replica.
	Key []byte
	// PreviousKeys are keys Key replaced: tokens they made are still
	// valid (a form open during the rotation); new ones use Key.
	PreviousKeys [][]byte
	// Secure marks the cookie Secure and gives it the __Host- prefix;
	// false only for http on loopback.
	Secure bool
}

// New returns a Protector.
func New(cfg Config) *Protector {
	name := "idp_csrf"
	if cfg.Secure {
		name = "__Host-idp_csrf"
	}
	return &Protector{key: cfg.Key, previous: cfg.PreviousKeys, cookie: name, secure: cfg.Secure}
}

// Middleware refuses cross-origin unsafe requests (POST and the like)
// with onDeny: a browser's Sec-Fetch-Site other than same-origin or none,
// or, from older browsers, an Origin whose host is not the request's.
// Requests without either header (not from a browser) pass; the form
// token still stops them. Each call has its own deny handler.
func (p *Protector) Middleware(onDeny http.Handler) func(http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(onDeny)
	return cop.Handler
}

// Token returns the token for purpose, setting the browser cookie it is
// bound to when the browser has none yet.
func (p *Protector) Token(w http.ResponseWriter, r *http.Request, purpose string) string {
	seed := p.seed(r)
	if seed == "" {
		var b [32]byte
		_, _ = rand.Read(b[:])
		seed = base64.RawURLEncoding.EncodeToString(b[:])
		http.SetCookie(w, &http.Cookie{
			Name: p.cookie, Value: seed, Path: "/",
			HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteStrictMode,
		})
		// Later calls within this request see the new seed.
		r.AddCookie(&http.Cookie{Name: p.cookie, Value: seed})
	}
	return p.mac(p.key, seed, purpose)
}

// Valid reports whether token was issued to this browser for purpose.
func (p *Protector) Valid(r *http.Request, purpose, token string) bool {
	seed := p.seed(r)
	if seed == "" || token == "" {
		return false
	}
	for _, k := range append([][]byte{p.key}, p.previous...) {
		if hmac.Equal([]byte(token), []byte(p.mac(k, seed, purpose))) {
			return true
		}
	}
	return false
}

func (p *Protector) seed(r *http.Request) string {
	c, err := r.Cookie(p.cookie)
	if err != nil || len(c.Value) != 43 {
		return ""
	}
	return c.Value
}

func (p *Protector) mac(key []byte, seed, purpose string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(seed))
	m.Write([]byte{0})
	m.Write([]byte(purpose))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
