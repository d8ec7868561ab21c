package server

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/region-nouvelle-aquitaine/idp/idp/provider"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/throttle"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// AuthorizeLimit bounds the authorization requests of one client
// address: each one stores a pending sign-in in Redis.
type AuthorizeLimit struct {
	// PerAddress requests in any Window; an IPv6 /64 counts as one
	// address. Zero: no limit.
	PerAddress int
	Window     time.Duration
	// ClientIP is the address a request comes from (trusted proxies
	// applied).
	ClientIP func(*http.Request) netip.Addr
	Now      func() time.Time
}

var authorizePath = op.DefaultEndpoints.Authorization.Relative()

// limitAuthorize answers a French 429 page to an address that sent more
// than PerAddress authorization requests in the window. Only requests
// that store a sign-in count, in the same round trip as the sign-in
// (provider.WithAdmission); refused ones are not counted, so waiting is
// enough. When Redis cannot count, it cannot store the sign-in either:
// the library says so to the site.
func limitAuthorize(l AuthorizeLimit, pages *web.Pages, next http.Handler) http.Handler {
	if l.PerAddress <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != authorizePath {
			next.ServeHTTP(w, r)
			return
		}
		a := &provider.Admission{Admission: store.Admission{
			Name: "authorize-ip:" + addressKey(l.ClientIP(r)), Window: l.Window, Limit: l.PerAddress,
		}}
		next.ServeHTTP(&heldWriter{w: w, a: a}, r.WithContext(provider.WithAdmission(r.Context(), a)))
		if !a.Refused {
			return
		}
		wait := max(1, int(math.Ceil(a.RetryAt.Sub(l.Now()).Seconds())))
		pages.Log.InfoContext(r.Context(), "authorize: too many requests from one address", "retry_after_s", wait,
			"request_id", web.RequestID(r.Context()))
		w.Header().Set("Retry-After", strconv.Itoa(wait))
		pages.ErrorPage(w, r, http.StatusTooManyRequests, views.ErrTooManyRequests)
	})
}

// heldWriter passes the answer through until the admission refuses; from
// then on (the library's redirect to the site with an error) it keeps
// nothing, so that limitAuthorize answers instead.
type heldWriter struct {
	w       http.ResponseWriter
	a       *provider.Admission
	dropped http.Header
}

func (h *heldWriter) Header() http.Header {
	if !h.a.Refused {
		return h.w.Header()
	}
	if h.dropped == nil {
		h.dropped = http.Header{}
	}
	return h.dropped
}

func (h *heldWriter) WriteHeader(code int) {
	if !h.a.Refused {
		h.w.WriteHeader(code)
	}
}

func (h *heldWriter) Write(b []byte) (int, error) {
	if h.a.Refused {
		return len(b), nil
	}
	return h.w.Write(b)
}

func (h *heldWriter) Unwrap() http.ResponseWriter { return h.w }

// addressKey names a client address in a counter: an IPv6 address by its
// /64 (one household or phone holds a whole /64 and could rotate through
// it), hashed since an address is personal data.
func addressKey(ip netip.Addr) string {
	sum := sha256.Sum256([]byte(throttle.ClientNetwork(ip)))
	return hex.EncodeToString(sum[:16])
}
