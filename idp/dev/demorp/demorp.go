// Package demorp is a minimal relying party built on coreos/go-oidc and
// golang.org/x/oauth2 (a client we did not write): dev mode mounts it as
// the demo site, and the tests use it as the sites a person signs in to.
// It verifies the ID token (signature, iss, aud, exp, nonce) and shows
// the claims. Its back-channel endpoint (BaseURL + "/backchannel") ends
// its sessions named by a verified logout token.
package demorp

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	// The demo site says times in Paris time wherever it runs.
	_ "time/tzdata"

	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// Config configures the demo site.
type Config struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	// BaseURL is the site's own URL, e.g. http://localhost:8080/demo; the
	// redirect URI is BaseURL + "/callback".
	BaseURL string
	// PostLogoutRedirectURI is where the provider sends the person back
	// after « Se déconnecter »; empty means BaseURL + "/". It must be one
	// of the client's post_logout_redirect_uris.
	PostLogoutRedirectURI string
	Scopes                []string
	// HTTPClient talks to the provider; nil means http.DefaultClient.
	HTTPClient *http.Client
	Log        *slog.Logger
}

// Result is what one completed sign-in brought back.
type Result struct {
	IDToken     *oidc.IDToken
	RawIDToken  string
	Claims      map[string]any
	Token       *oauth2.Token
	UserInfo    map[string]any
	UserInfoErr error
}

// RP is the demo relying party.
type RP struct {
	cfg  Config
	path string

	mu       sync.Mutex
	provider *oidc.Provider
	pending  map[string]pending // by state
	results  map[string]*Result // by browser cookie
	last     *Result
}

type pending struct{ nonce, verifier, browser string }

// New returns the demo site. Discovery happens on first use, so the
// provider may start after it.
func New(cfg Config) *RP {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{oidc.ScopeOpenID, "profile", "email"}
	}
	var path string
	if u, err := url.Parse(cfg.BaseURL); err == nil {
		path = strings.TrimSuffix(u.Path, "/")
	}
	return &RP{cfg: cfg, path: path, pending: map[string]pending{}, results: map[string]*Result{}}
}

// BackchannelURI is the backchannel_logout_uri to register for the client.
func (rp *RP) BackchannelURI() string {
	return strings.TrimSuffix(rp.cfg.BaseURL, "/") + "/backchannel"
}

// PostLogoutRedirectURI is the post_logout_redirect_uri to register for
// the client.
func (rp *RP) PostLogoutRedirectURI() string {
	if rp.cfg.PostLogoutRedirectURI != "" {
		return rp.cfg.PostLogoutRedirectURI
	}
	return strings.TrimSuffix(rp.cfg.BaseURL, "/") + "/"
}

// RedirectURI is the callback to register for the client.
func (rp *RP) RedirectURI() string { return strings.TrimSuffix(rp.cfg.BaseURL, "/") + "/callback" }

// Last is the most recent completed sign-in, for tests.
func (rp *RP) Last() *Result {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.last
}

func (rp *RP) ctx(ctx context.Context) context.Context {
	if rp.cfg.HTTPClient != nil {
		return oidc.ClientContext(ctx, rp.cfg.HTTPClient)
	}
	return ctx
}

func (rp *RP) oauth(ctx context.Context) (*oidc.Provider, *oauth2.Config, error) {
	rp.mu.Lock()
	p := rp.provider
	rp.mu.Unlock()
	if p == nil {
		var err error
		if p, err = oidc.NewProvider(rp.ctx(ctx), rp.cfg.Issuer); err != nil {
			return nil, nil, fmt.Errorf("discovery: %w", err)
		}
		rp.mu.Lock()
		rp.provider = p
		rp.mu.Unlock()
	}
	return p, &oauth2.Config{
		ClientID: rp.cfg.ClientID, ClientSecret: rp.cfg.ClientSecret,
		Endpoint: p.Endpoint(), RedirectURL: rp.RedirectURI(), Scopes: rp.cfg.Scopes,
	}, nil
}

func (rp *RP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimPrefix(r.URL.Path, rp.path) {
	case "", "/":
		rp.home(w, r, "")
	case "/start":
		rp.start(w, r)
	case "/callback":
		rp.callback(w, r)
	case "/logout":
		rp.logout(w, r)
	case "/backchannel":
		rp.backchannel(w, r)
	default:
		// The page links /static/style.css: on its own host (tests) the
		// site serves it; in dev mode the provider's route answers first.
		if strings.HasPrefix(r.URL.Path, "/static/") {
			http.FileServerFS(views.Static).ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
	}
}

func random() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (rp *RP) browser(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie("demorp"); err == nil && c.Value != "" {
		return c.Value
	}
	id := random()
	http.SetCookie(w, &http.Cookie{
		Name: "demorp", Value: id, Path: rp.path + "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: strings.HasPrefix(rp.cfg.BaseURL, "https://"),
	})
	return id
}

func (rp *RP) home(w http.ResponseWriter, r *http.Request, problem string) {
	b := rp.browser(w, r)
	p := views.DemoPage{SignInURL: rp.path + "/start", Error: problem}
	rp.mu.Lock()
	res := rp.results[b]
	rp.mu.Unlock()
	if res != nil {
		p.LogoutURL = rp.path + "/logout"
		keys := make([]string, 0, len(res.Claims))
		for k := range res.Claims {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		paris := parisTime()
		for _, k := range keys {
			p.Claims = append(p.Claims, views.DemoClaim{Name: k, Value: claimText(k, res.Claims[k], paris)})
		}
	}
	status := http.StatusOK
	if problem != "" {
		status = http.StatusBadGateway
	}
	if err := web.Render(w, r, status, views.Demo(p)); err != nil {
		rp.cfg.Log.Error("demo page", "err", err)
	}
}

// isTimeClaim: the claim holds a time, in seconds since 1970.
func isTimeClaim(name string) bool {
	switch name {
	case "exp", "iat", "nbf", "auth_time", "updated_at":
		return true
	}
	return false
}

func parisTime() *time.Location {
	if loc, err := time.LoadLocation("Europe/Paris"); err == nil {
		return loc
	}
	return time.UTC
}

// frenchDate says a time as a person reads it: « 5 décembre 2026 à
// 21:30:49 (heure de Paris) ».
func frenchDate(t time.Time, loc *time.Location) string {
	months := [...]string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"}
	t = t.In(loc)
	day := strconv.Itoa(t.Day())
	if t.Day() == 1 {
		day = "1er"
	}
	zone := "heure de Paris"
	if loc == time.UTC {
		zone = "UTC"
	}
	return day + "\u00a0" + months[t.Month()-1] + "\u00a0" + strconv.Itoa(t.Year()) + " à " + t.Format("15:04:05") + " (" + zone + ")"
}

// claimText writes a claim's value for the page: times as French dates
// (JSON numbers arrive as float64), other numbers without exponent, lists
// and objects as JSON.
func claimText(name string, v any, loc *time.Location) string {
	switch v := v.(type) {
	case float64:
		if isTimeClaim(name) && v == math.Trunc(v) {
			return frenchDate(time.Unix(int64(v), 0), loc)
		}
		return strconv.FormatFloat(v, 'f', -1, 64)
	case string:
		return v
	case bool:
		if v {
			return "oui"
		}
		return "non"
	case nil:
		return ""
	}
	if b, err := json.Marshal(v); err == nil {
		return string(b)
	}
	return fmt.Sprint(v)
}

// logout is « Se déconnecter »: the site forgets the sign-in, then sends
// the person to the provider's end_session_endpoint with the ID token as
// hint, to come back to the site's home page.
func (rp *RP) logout(w http.ResponseWriter, r *http.Request) {
	b := rp.browser(w, r)
	rp.mu.Lock()
	res := rp.results[b]
	delete(rp.results, b)
	rp.mu.Unlock()
	if res == nil {
		http.Redirect(w, r, rp.path+"/", http.StatusSeeOther)
		return
	}
	p, _, err := rp.oauth(r.Context())
	if err != nil {
		rp.home(w, r, "Le fournisseur d’identité ne répond pas.")
		return
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	var u *url.URL
	if err := p.Claims(&meta); err == nil && meta.EndSession != "" {
		u, err = url.Parse(meta.EndSession)
		if err != nil {
			u = nil
		}
	}
	if u == nil {
		rp.home(w, r, "Le fournisseur d’identité ne propose pas de déconnexion.")
		return
	}
	q := u.Query()
	q.Set("id_token_hint", res.RawIDToken)
	q.Set("client_id", rp.cfg.ClientID)
	q.Set("post_logout_redirect_uri", rp.PostLogoutRedirectURI())
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

func (rp *RP) start(w http.ResponseWriter, r *http.Request) {
	_, oc, err := rp.oauth(r.Context())
	if err != nil {
		rp.home(w, r, "Le fournisseur d’identité ne répond pas.")
		return
	}
	st, nonce, verifier := random(), random(), oauth2.GenerateVerifier()
	rp.mu.Lock()
	rp.pending[st] = pending{nonce: nonce, verifier: verifier, browser: rp.browser(w, r)}
	rp.mu.Unlock()
	opts := []oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}
	if hint := r.URL.Query().Get("idp_hint"); hint != "" {
		// /start?idp_hint=agent-siege shows how a site skips the choice of
		// profile; the provider checks the value.
		opts = append(opts, oauth2.SetAuthURLParam("idp_hint", hint))
	}
	if p := r.URL.Query().Get("prompt"); p == "login" {
		// /start?prompt=login: a site asking for the password again.
		opts = append(opts, oauth2.SetAuthURLParam("prompt", p))
	}
	http.Redirect(w, r, oc.AuthCodeURL(st, opts...), http.StatusFound)
}

func (rp *RP) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rp.mu.Lock()
	pend, ok := rp.pending[q.Get("state")]
	delete(rp.pending, q.Get("state"))
	rp.mu.Unlock()
	if !ok || pend.browser != rp.browser(w, r) {
		rp.home(w, r, "Réponse inattendue : aucune connexion n’était en cours.")
		return
	}
	if e := q.Get("error"); e != "" {
		rp.home(w, r, "Le fournisseur d’identité a répondu : "+e)
		return
	}
	res, err := rp.exchange(r.Context(), q.Get("code"), pend)
	if err != nil {
		rp.cfg.Log.Warn("demo sign-in failed", "err", err)
		rp.home(w, r, "La connexion n’a pas pu être vérifiée.")
		return
	}
	rp.mu.Lock()
	rp.results[pend.browser] = res
	rp.last = res
	rp.mu.Unlock()
	http.Redirect(w, r, rp.path+"/", http.StatusSeeOther)
}

func (rp *RP) exchange(ctx context.Context, code string, pend pending) (*Result, error) {
	p, oc, err := rp.oauth(ctx)
	if err != nil {
		return nil, err
	}
	ctx = rp.ctx(ctx)
	tok, err := oc.Exchange(ctx, code, oauth2.VerifierOption(pend.verifier))
	if err != nil {
		return nil, fmt.Errorf("exchange: %w", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		return nil, fmt.Errorf("no id_token in the token response")
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: rp.cfg.ClientID}).Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("verify id_token: %w", err)
	}
	if idt.Nonce != pend.nonce {
		return nil, fmt.Errorf("nonce mismatch")
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil && idt.AccessTokenHash != "" {
		return nil, fmt.Errorf("at_hash: %w", err)
	}
	res := &Result{IDToken: idt, RawIDToken: raw, Token: tok}
	if err := idt.Claims(&res.Claims); err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	if slices.Contains(rp.cfg.Scopes, oidc.ScopeOpenID) {
		ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err == nil {
			err = ui.Claims(&res.UserInfo)
		}
		res.UserInfoErr = err
	}
	return res, nil
}

// backchannelEvent is the member a logout token's events must have.
const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// maxLogoutAge bounds how old a logout token's iat may be.
const maxLogoutAge = 5 * time.Minute

// backchannel verifies a logout token and ends the sessions it names:
// 200 when it is valid (even if no session matched), 400 otherwise.
func (rp *RP) backchannel(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	sid, sub, err := rp.verifyLogoutToken(r.Context(), r.PostFormValue("logout_token"))
	if err != nil {
		rp.cfg.Log.Warn("demo: logout token refused", "err", err)
		http.Error(w, "invalid logout token", http.StatusBadRequest)
		return
	}
	rp.mu.Lock()
	for b, res := range rp.results {
		// sid names one session; a token without sid ends all of sub's.
		if (sid != "" && res.Claims["sid"] == sid) || (sid == "" && res.Claims["sub"] == sub) {
			delete(rp.results, b)
		}
	}
	rp.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// verifyLogoutToken checks a logout token as the Back-Channel Logout
// specification asks: signature against the provider's keys, iss, aud,
// exp, a recent iat, the back-channel event, sid or sub, and no nonce.
func (rp *RP) verifyLogoutToken(ctx context.Context, raw string) (sid, sub string, err error) {
	if raw == "" {
		return "", "", fmt.Errorf("no logout_token")
	}
	p, _, err := rp.oauth(ctx)
	if err != nil {
		return "", "", err
	}
	tok, err := p.Verifier(&oidc.Config{ClientID: rp.cfg.ClientID}).Verify(rp.ctx(ctx), raw)
	if err != nil {
		return "", "", fmt.Errorf("verify: %w", err)
	}
	var c struct {
		SID    string                     `json:"sid"`
		Events map[string]json.RawMessage `json:"events"`
		Nonce  *string                    `json:"nonce"`
	}
	if err := tok.Claims(&c); err != nil {
		return "", "", fmt.Errorf("claims: %w", err)
	}
	ev, ok := c.Events[backchannelEvent]
	switch {
	case !ok || len(ev) == 0 || ev[0] != '{':
		return "", "", fmt.Errorf("no back-channel logout event")
	case c.Nonce != nil:
		return "", "", fmt.Errorf("a logout token must not carry a nonce")
	case c.SID == "" && tok.Subject == "":
		return "", "", fmt.Errorf("neither sid nor sub")
	case time.Since(tok.IssuedAt) > maxLogoutAge || time.Until(tok.IssuedAt) > time.Minute:
		return "", "", fmt.Errorf("iat %s is not recent", tok.IssuedAt)
	}
	return c.SID, tok.Subject, nil
}
