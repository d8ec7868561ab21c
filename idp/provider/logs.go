package provider

import (
	"context"
	"log/slog"
)

// libraryLogSecrets are the attributes that the OIDC library may log and
// that must not reach the logs: an authorization error carries the
// relying party's state, a redirect's URL carries state and code.
var libraryLogSecrets = map[string]bool{
	"state": true, "session_state": true, "url": true, "code": true, "code_verifier": true,
	"nonce": true, "login_hint": true, "id_token_hint": true,
}

// RedactLibraryLogs wraps the handler of the logger given to the OIDC
// library (it logs through slog.Default): the attributes above are
// dropped, at any depth, before h sees them.
func RedactLibraryLogs(h slog.Handler) slog.Handler { return redactHandler{h} }

type redactHandler struct{ slog.Handler }

func (h redactHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a, ok := redact(a); ok {
			out.AddAttrs(a)
		}
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	kept := make([]slog.Attr, 0, len(attrs))
	for _, a := range attrs {
		if a, ok := redact(a); ok {
			kept = append(kept, a)
		}
	}
	return redactHandler{h.Handler.WithAttrs(kept)}
}

func (h redactHandler) WithGroup(name string) slog.Handler {
	return redactHandler{h.Handler.WithGroup(name)}
}

// redact resolves a (LogValuer values become what they log) and drops
// the secret attributes in it.
func redact(a slog.Attr) (slog.Attr, bool) {
	if libraryLogSecrets[a.Key] {
		return slog.Attr{}, false
	}
	v := a.Value.Resolve()
	if v.Kind() != slog.KindGroup {
		return slog.Attr{Key: a.Key, Value: v}, true
	}
	var kept []slog.Attr
	for _, g := range v.Group() {
		if g, ok := redact(g); ok {
			kept = append(kept, g)
		}
	}
	return slog.Attr{Key: a.Key, Value: slog.GroupValue(kept...)}, true
}
