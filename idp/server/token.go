package server

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/region-nouvelle-aquitaine/idp/idp/provider"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
)

// The endpoints that programs call answer errors in JSON (RFC 6749 §5.2,
// RFC 7009, RFC 7662) or in WWW-Authenticate (RFC 6750), never with a
// page: a person never sees them.

// clientEndpoint checks what the token, introspection and revocation
// endpoints receive before the library acts on it:
//   - a parameter may come once (RFC 6749 §3.2): which copy the library
//     would read is not ours to guess;
//   - the client authenticates first, with provider.AuthenticateClient's
//     rules (the library would spend a code before checking who presents
//     it), with the endpoint's clientRules;
//   - at the token endpoint, an authorization code must be bound to that
//     client, its redirect URI and its PKCE verifier before the library
//     consumes it; a refresh token must belong to that client before the
//     library rotates it or takes an old one for reuse (which revokes the
//     owner's family).
func clientEndpoint(p *provider.Provider, log *slog.Logger, rules clientRules, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
		var what string
		grant := ""
		if rules.grants {
			grant = f.Get("grant_type")
		}
		switch grant {
		case string(oidc.GrantTypeCode):
			what, err = "code", p.CheckCode(r.Context(), c.ID, f.Get("code"), f.Get("code_verifier"), f.Get("redirect_uri"))
		case string(oidc.GrantTypeRefreshToken):
			if f.Get("refresh_token") != "" { // missing: the library's invalid_request
				what, err = "refresh token", p.CheckRefreshToken(r.Context(), c.ID, f.Get("refresh_token"))
			}
		}
		switch {
		case errors.Is(err, provider.ErrBadGrant):
			jsonError(w, http.StatusBadRequest, oidc.ErrInvalidGrant().WithDescription("invalid %s", what))
			return
		case err != nil:
			log.ErrorContext(r.Context(), "token endpoint: cannot check the "+what, "err", err, "request_id", web.RequestID(r.Context()))
			jsonError(w, http.StatusServiceUnavailable, &oidc.Error{ErrorType: "temporarily_unavailable", Description: "try again later"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// clientRules are what an endpoint adds to provider.AuthenticateClient.
type clientRules struct {
	// public: a public client, with its id only, may use the endpoint.
	public bool
	// basicOnly: only client_secret_basic is accepted (the library's
	// introspection reads nothing else).
	basicOnly bool
	// grants: the token endpoint, where the grant (a code, a refresh
	// token) is checked against the client before the library uses it.
	grants bool
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

// userinfoEndpoint answers the errors of /userinfo per RFC 6750: the
// library says 401 in plain English, or 403 with an empty JSON object
// for a revoked token.
//   - no token: 401 with a bare Bearer challenge;
//   - a token in the query string (it ends in logs and histories) or
//     sent twice: 400 invalid_request;
//   - a token the library or the storage refuses: 401 invalid_token;
//   - Redis unreachable: 503.
func userinfoEndpoint(p *provider.Provider, next http.Handler) http.Handler {
	challenge := func(w http.ResponseWriter, status int, code, desc string) {
		v := `Bearer realm="` + p.Issuer() + `"`
		if code != "" {
			v += `, error="` + code + `", error_description="` + desc + `"`
		}
		w.Header().Set("WWW-Authenticate", v)
		w.Header().Set("Cache-Control", "no-store")
		if code == "" {
			w.WriteHeader(status)
			return
		}
		jsonError(w, status, &oidc.Error{ErrorType: oidc.InvalidRequest, Description: desc})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("access_token") {
			challenge(w, http.StatusBadRequest, "invalid_request", "the access token must not be sent in the query string")
			return
		}
		if err := r.ParseForm(); err != nil {
			challenge(w, http.StatusBadRequest, "invalid_request", "the form cannot be read")
			return
		}
		auth := r.Header.Get("Authorization")
		inHeader := len(auth) > 7 && strings.EqualFold(auth[:7], "Bearer ")
		inBody := r.PostForm.Has("access_token")
		switch {
		case inHeader && inBody || len(r.PostForm["access_token"]) > 1:
			challenge(w, http.StatusBadRequest, "invalid_request", "the access token must be sent once")
			return
		case !inHeader && !inBody:
			challenge(w, http.StatusUnauthorized, "", "")
			return
		}
		rec := &bufferedWriter{header: http.Header{}}
		next.ServeHTTP(rec, r)
		switch rec.status {
		case http.StatusUnauthorized, http.StatusForbidden:
			var e struct {
				Error string `json:"error"`
			}
			if json.Unmarshal(rec.body.Bytes(), &e) == nil && e.Error == string(oidc.ServerError) {
				jsonError(w, http.StatusServiceUnavailable, &oidc.Error{ErrorType: "temporarily_unavailable", Description: "try again later"})
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+p.Issuer()+`", error="invalid_token", error_description="the access token is not valid"`)
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		rec.flush(w)
	})
}

// bufferedWriter holds a small response (userinfo answers are) until the
// handler is done.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }
func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
func (b *bufferedWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedWriter) flush(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(b.body.Len()))
	w.WriteHeader(cmp.Or(b.status, http.StatusOK))
	_, _ = w.Write(b.body.Bytes())
}
