// Package binding ties every sign-in to the browser that started it, as
// Keycloak does with its auth-session cookie: /authorize gives the
// browser a random value in a cookie and the sign-in keeps only its
// SHA-256 hash; every page and handler that takes the sign-in's id then
// requires the cookie whose hash matches. A link to someone else's
// sign-in is useless in any other browser.
package binding

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
)

// Cookie names and sets the browser's value.
type Cookie struct {
	// Secure (an https issuer) gives the cookie the __Host- prefix.
	Secure bool
}

// Name is the cookie's name.
func (c Cookie) Name() string {
	if c.Secure {
		return "__Host-idp_browser"
	}
	return "idp_browser"
}

// valueLen is the length of an encoded value: 32 random bytes.
const valueLen = 43

// value returns the browser's value when it has a well-formed one.
func (c Cookie) value(r *http.Request) (string, bool) {
	ck, err := r.Cookie(c.Name())
	if err != nil || len(ck.Value) != valueLen {
		return "", false
	}
	if b, err := base64.RawURLEncoding.DecodeString(ck.Value); err != nil || len(b) != 32 {
		return "", false
	}
	return ck.Value, true
}

// Middleware gives the request the browser's value, reusing the one it
// already has (several tabs may sign in at once) or minting one and
// setting the cookie. The value reaches the provider's storage through
// the request's context, the only way into the library's
// CreateAuthRequest.
func (c Cookie) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, ok := c.value(r)
		if !ok {
			var b [32]byte
			_, _ = rand.Read(b[:]) // never fails (crypto/rand)
			v = base64.RawURLEncoding.EncodeToString(b[:])
			http.SetCookie(w, &http.Cookie{
				Name: c.Name(), Value: v, Path: "/", HttpOnly: true, Secure: c.Secure,
				// Lax: the login page is reached by a top-level redirect
				// from the site.
				SameSite: http.SameSiteLaxMode,
			})
		}
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), v)))
	})
}

// Matches reports whether the browser holds the value hashed to hash.
// An empty hash (a sign-in bound to nothing) matches no browser.
func (c Cookie) Matches(r *http.Request, hash string) bool {
	v, ok := c.value(r)
	if !ok || hash == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(Hash(v)), []byte(hash)) == 1
}

type ctxKey struct{}

// NewContext carries the browser's value v to the provider's storage.
func NewContext(ctx context.Context, v string) context.Context {
	return context.WithValue(ctx, ctxKey{}, v)
}

// FromContext is the value Middleware put in ctx.
func FromContext(ctx context.Context) (string, bool) {
	v, ok := ctx.Value(ctxKey{}).(string)
	return v, ok && v != ""
}

// Hash is what a sign-in keeps of the value: a copy of Redis does not
// give the cookie.
func Hash(v string) string {
	h := sha256.Sum256([]byte(v))
	return hex.EncodeToString(h[:])
}
