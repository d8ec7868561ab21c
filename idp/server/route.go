package server

import (
	"context"
	"net/http"
)

// The middlewares between the outermost handler and the mux pass requests
// on with a new context (a copy of the request), so the pattern the mux
// sets on its own copy is out of sight of anything outside. A slot put in
// the context by TrackRoute lets the outside read it: what metrics and
// traces need, bounded (a pattern, not a path).

type routeKey struct{}

// TrackRoute returns ctx with a slot that the route the mux matches is
// written to; read it with the returned function after the handler ran.
// "" means no route (the handler did not reach the mux).
func TrackRoute(ctx context.Context) (context.Context, func() string) {
	slot := new(string)
	return context.WithValue(ctx, routeKey{}, slot), func() string { return *slot }
}

// noteRoute writes the mux's matched pattern to the TrackRoute slot.
func noteRoute(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		if slot, ok := r.Context().Value(routeKey{}).(*string); ok {
			*slot = r.Pattern
		}
	})
}
