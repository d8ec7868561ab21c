package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/region-nouvelle-aquitaine/idp/idp/throttle"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// Counter is the sliding-window counter of idp/store.
type Counter interface {
	Allow(ctx context.Context, name string, window time.Duration, limit int) (allowed bool, n int64, retryAt time.Time, err error)
}

// AuthorizeLimit bounds the authorization requests of one client
// address: each one stores a pending sign-in in Redis.
type AuthorizeLimit struct {
	Counter Counter
	// ClientIP is the address a request comes from (trusted proxies
	// applied).
	ClientIP func(*http.Request) netip.Addr
	// PerAddress requests in any Window; an IPv6 /64 counts as one address.
	PerAddress int
	Window     time.Duration
	Now        func() time.Time
}

var authorizePath = op.DefaultEndpoints.Authorization.Relative()

// limitAuthorize answers a French 429 page to an address that sent more
// than PerAddress authorization requests in the window. Refused requests
// are not counted, so waiting is enough. When Redis cannot count, the
// request goes on: the library then fails to store it anyway, and says so.
func limitAuthorize(l AuthorizeLimit, pages *web.Pages, next http.Handler) http.Handler {
	if l.Counter == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != authorizePath {
			next.ServeHTTP(w, r)
			return
		}
		ok, _, retryAt, err := l.Counter.Allow(r.Context(), "authorize-ip:"+addressKey(l.ClientIP(r)), l.Window, l.PerAddress)
		if err != nil {
			pages.Log.ErrorContext(r.Context(), "authorize: counter unavailable", "err", err, "request_id", web.RequestID(r.Context()))
		}
		if err != nil || ok {
			next.ServeHTTP(w, r)
			return
		}
		wait := max(1, int(math.Ceil(retryAt.Sub(l.Now()).Seconds())))
		pages.Log.InfoContext(r.Context(), "authorize: too many requests from one address", "retry_after_s", wait,
			"request_id", web.RequestID(r.Context()))
		w.Header().Set("Retry-After", strconv.Itoa(wait))
		pages.ErrorPage(w, r, http.StatusTooManyRequests, views.ErrTooManyRequests)
	})
}

// addressKey names a client address in a counter: an IPv6 address by its
// /64 (one household or phone holds a whole /64 and could rotate through
// it), hashed since an address is personal data.
func addressKey(ip netip.Addr) string {
	sum := sha256.Sum256([]byte(throttle.ClientNetwork(ip)))
	return hex.EncodeToString(sum[:16])
}
