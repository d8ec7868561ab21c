package provider

import (
	"context"
	"regexp"
)

// ClaimIDP names the source that vouched for the person, in ID tokens,
// userinfo and introspection: "annuaire" (the directory) or an upstream
// provider's id.
const ClaimIDP = "idp"

// IDPHintParam is the authorization parameter by which a site names the
// profile (config.Profile.ID) of the person it sends, skipping the choice
// on the login screen. The library drops parameters it does not know, so
// the route reads it from the raw request and hands it over in the
// context.
const IDPHintParam = "idp_hint"

// idpHintPattern is the form of a profile id; anything else is ignored.
var idpHintPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

type idpHintKey struct{}

// WithIDPHint carries a site's idp_hint to CreateAuthRequest; a
// malformed hint is dropped.
func WithIDPHint(ctx context.Context, hint string) context.Context {
	if !idpHintPattern.MatchString(hint) {
		return ctx
	}
	return context.WithValue(ctx, idpHintKey{}, hint)
}

// IDPHintFromContext is the hint WithIDPHint kept, or "".
func IDPHintFromContext(ctx context.Context) string {
	h, _ := ctx.Value(idpHintKey{}).(string)
	return h
}
