package server

import (
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/region-nouvelle-aquitaine/idp/idp/provider"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
)

// The endpoints that programs call answer errors in JSON (RFC 6749 §5.2,
// RFC 7009, RFC 7662) or in WWW-Authenticate (RFC 6750), never with a
// page: a person never sees them. What the handlers here check comes in
// front of the library's request parsing; what the endpoints answer once
// a request is parsed is the provider's op.Server (provider.APIHandler).

// clientEndpoint checks what the token, introspection and revocation
// endpoints receive before the library parses it, where the library
// would answer with the wrong error or not check at all:
//   - POST only, and nothing in the URL (RFC 6749 §2.3.1 and §3.2): a
//     code, a token or a secret there would end up in the logs of every
//     proxy on the way, and the library reads the URL's parameters too;
//   - a parameter may come once (RFC 6749 §3.2): which copy the library
//     would read is not ours to guess;
//   - the client authenticates here, once, with
//     provider.AuthenticateClient's rules and the endpoint's clientRules:
//     the library would refuse a missing secret with 400 invalid_request
//     where RFC 6749 §5.2 says 401 invalid_client. The client then
//     travels in the context (provider.WithClient) to the provider's
//     op.Server, which serves that client only and checks a code or
//     refresh token against it before using it.
func clientEndpoint(p *provider.Provider, log *slog.Logger, rules clientRules, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			jsonError(w, http.StatusMethodNotAllowed, oidc.ErrInvalidRequest().WithDescription("only POST is accepted"))
			return
		}
		if r.URL.RawQuery != "" {
			jsonError(w, http.StatusBadRequest, oidc.ErrInvalidRequest().WithDescription("parameters go in the request body, not in the URL"))
			return
		}
		if err := r.ParseForm(); err != nil {
			jsonError(w, http.StatusBadRequest, oidc.ErrInvalidRequest().WithDescription("the form cannot be read"))
			return
		}
		f := r.Form
		for _, k := range slices.Sorted(maps.Keys(f)) {
			if len(f[k]) > 1 {
				jsonError(w, http.StatusBadRequest, oidc.ErrInvalidRequest().WithDescription("parameter %s is repeated", k))
				return
			}
		}
		creds, e := clientCredentials(r)
		if e != nil {
			jsonError(w, http.StatusBadRequest, e)
			return
		}
		_, basic := r.Header["Authorization"]
		c, err := p.AuthenticateClient(creds)
		switch {
		case err == nil && c.Public && !rules.public:
			err = errors.New("public client")
		case err == nil && rules.basicOnly && !c.Public && !basic:
			err = errors.New("client_secret_post where only client_secret_basic is accepted")
		}
		if err != nil {
			// The id is the caller's text: a registered one is logged, not any.
			id := "(unknown)"
			if _, ok := p.Client(creds.ID); ok {
				id = creds.ID
			}
			log.InfoContext(r.Context(), "client authentication failed", "path", r.URL.Path, "client_id", id,
				"request_id", web.RequestID(r.Context()))
			w.Header().Set("WWW-Authenticate", `Basic realm="`+p.Issuer()+`"`)
			jsonError(w, http.StatusUnauthorized, oidc.ErrInvalidClient().WithDescription("client authentication failed"))
			return
		}
		next.ServeHTTP(w, r.WithContext(provider.WithClient(r.Context(), c)))
	})
}

// clientRules are what an endpoint adds to provider.AuthenticateClient.
type clientRules struct {
	// public: a public client, with its id only, may use the endpoint.
	public bool
	// basicOnly: only client_secret_basic is accepted (the library's
	// introspection reads nothing else).
	basicOnly bool
}

// clientCredentials reads the client's credentials as the library does:
// the Authorization header (form-encoded id and secret, RFC 6749 §2.3.1),
// else client_id and client_secret in the form. Two methods at once, or a
// client assertion (not supported), are refused.
func clientCredentials(r *http.Request) (provider.Credentials, *oidc.Error) {
	f := r.Form
	if f.Has("client_assertion") || f.Has("client_assertion_type") {
		return provider.Credentials{}, oidc.ErrInvalidRequest().WithDescription("client assertions are not supported")
	}
	if _, ok := r.Header["Authorization"]; !ok {
		return provider.Credentials{ID: f.Get("client_id"), Secret: f.Get("client_secret"), SecretSent: f.Has("client_secret")}, nil
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		return provider.Credentials{}, oidc.ErrInvalidRequest().WithDescription("only Basic client authentication is accepted in the Authorization header")
	}
	if f.Has("client_secret") || f.Has("client_id") && f.Get("client_id") != id {
		return provider.Credentials{}, oidc.ErrInvalidRequest().WithDescription("the client must use only one authentication method")
	}
	var err1, err2 error
	id, err1 = url.QueryUnescape(id)
	secret, err2 = url.QueryUnescape(secret)
	if err1 != nil || err2 != nil {
		return provider.Credentials{}, oidc.ErrInvalidRequest().WithDescription("the Basic credentials are not form-encoded")
	}
	return provider.Credentials{ID: id, Secret: secret, SecretSent: true}, nil
}

// jsonError writes an OAuth error response.
func jsonError(w http.ResponseWriter, status int, e *oidc.Error) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": string(e.ErrorType), "error_description": e.Description})
}

// userinfoEndpoint checks where the access token comes from (RFC 6750)
// before the library reads it; the provider's op.Server answers a token
// that is not valid (401 invalid_token) or Redis down (503).
//   - no token: 401 with a bare Bearer challenge (the library would
//     answer without a challenge);
//   - a token in the query string (it ends in logs and histories; the
//     library would read it) or sent twice: 400 invalid_request.
func userinfoEndpoint(p *provider.Provider, next http.Handler) http.Handler {
	challenge := func(w http.ResponseWriter, status int, desc string) {
		v := `Bearer realm="` + p.Issuer() + `"`
		w.Header().Set("Cache-Control", "no-store")
		if desc == "" {
			w.Header().Set("WWW-Authenticate", v)
			w.WriteHeader(status)
			return
		}
		w.Header().Set("WWW-Authenticate", v+`, error="invalid_request", error_description="`+desc+`"`)
		jsonError(w, status, oidc.ErrInvalidRequest().WithDescription("%s", desc))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("access_token") {
			challenge(w, http.StatusBadRequest, "the access token must not be sent in the query string")
			return
		}
		if err := r.ParseForm(); err != nil {
			challenge(w, http.StatusBadRequest, "the form cannot be read")
			return
		}
		auth := r.Header.Get("Authorization")
		inHeader := len(auth) > 7 && strings.EqualFold(auth[:7], "Bearer ")
		inBody := r.PostForm.Has("access_token")
		switch {
		case inHeader && inBody || len(r.PostForm["access_token"]) > 1:
			challenge(w, http.StatusBadRequest, "the access token must be sent once")
			return
		case !inHeader && !inBody:
			challenge(w, http.StatusUnauthorized, "")
			return
		}
		next.ServeHTTP(w, r)
	})
}
