package provider

import (
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// AuthParamMaxBytes is the longest value, in bytes, accepted for each
// authorization parameter. A pending sign-in is kept in Redis for its
// whole lifetime and anyone can create one, so what it may hold is
// bounded; the values are far above what relying parties send (a state
// or nonce is a random value of 16 to 64 bytes).
var AuthParamMaxBytes = map[string]int{
	"state":                 MaxStateBytes,
	"nonce":                 512,
	"login_hint":            256,
	"id_token_hint":         4096,
	"code_challenge":        128, // RFC 7636: 43 to 128 characters
	"code_challenge_method": 16,
	"scope":                 256,
	"ui_locales":            128,
	"acr_values":            256,
	"claims":                1024,
	"claims_locales":        128,
	"max_age":               10,
	"prompt":                64,
	"display":               16,
	"response_type":         32,
	"response_mode":         16,
	"client_id":             256,
	"redirect_uri":          1024,
}

// MaxAuthParamsBytes bounds all parameters of one authorization request
// together, names included, known or not.
const MaxAuthParamsBytes = 8192

// MaxStateBytes is AuthParamMaxBytes["state"]: a longer state is never
// echoed to a relying party.
const MaxStateBytes = 512

// checkLengths is the storage's own check of what an authorization
// request would store: the HTTP guard refuses longer values first.
func checkLengths(req *oidc.AuthRequest) error {
	locales := make([]string, 0, len(req.UILocales))
	for _, l := range req.UILocales {
		locales = append(locales, l.String())
	}
	for _, f := range []struct {
		name, value string
	}{
		{"state", req.State},
		{"nonce", req.Nonce},
		{"login_hint", req.LoginHint},
		{"code_challenge", req.CodeChallenge},
		{"scope", strings.Join(req.Scopes, " ")},
		{"prompt", strings.Join(req.Prompt, " ")},
		{"ui_locales", strings.Join(locales, " ")},
		{"redirect_uri", req.RedirectURI},
		{"client_id", req.ClientID},
	} {
		if len(f.value) > AuthParamMaxBytes[f.name] {
			return oidc.ErrInvalidRequest().WithDescription("%s is longer than %d bytes", f.name, AuthParamMaxBytes[f.name])
		}
	}
	return nil
}
