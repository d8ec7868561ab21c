package provider

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/rs/cors"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/region-nouvelle-aquitaine/idp/idp/store"
)

// Config is everything the provider is built from.
type Config struct {
	// Issuer is the configured public URL; never derived from Host.
	Issuer string
	// CryptoKey encrypts codes and opaque access tokens, and (through a
	// derived key) the signing key stored in Redis; identical on every
	// replica.
	CryptoKey [32]byte
	// PreviousCryptoKeys are crypto keys CryptoKey replaced: accepted to
	// decrypt and open, never to make anything new.
	PreviousCryptoKeys [][32]byte
	// SigningAlgorithm is RS256 (default) or ES256: that of new keys.
	SigningAlgorithm string
	// KeyRotationPeriod: see KeyPolicy; KeyCacheTTL and KeyCheckInterval
	// are for tests (defaults DefaultKeyCacheTTL, DefaultKeyCheckInterval).
	KeyRotationPeriod time.Duration
	KeyCacheTTL       time.Duration
	KeyCheckInterval  time.Duration
	Clients           []Client
	Lifetimes         Lifetimes
	// LoginPath is where the login UI lives; the auth request id is added
	// as the authRequestID query parameter.
	LoginPath string
	Now       func() time.Time
	Logger    *slog.Logger
}

// Provider is the OpenID Provider.
type Provider struct {
	op      *op.Provider
	storage *storage
	issuer  string
	clients map[string]*Client
	cors    *cors.Cors
	// corsOpts is the policy of both: the library's handlers and the
	// handlers in front of them.
	corsOpts cors.Options
	// api serves the endpoints programs call (APIHandler).
	api http.Handler
}

// keyPolicy keeps a retired key published as long as the tokens it
// signed live: ID tokens, and access tokens of the clients that get JWTs.
func keyPolicy(cfg Config, alg jose.SignatureAlgorithm) KeyPolicy {
	life := cfg.Lifetimes.IDToken
	for _, c := range cfg.Clients {
		if c.JWTAccessTokens {
			life = max(life, cfg.Lifetimes.AccessToken)
		}
	}
	return KeyPolicy{
		Algorithm: alg, RotationPeriod: cfg.KeyRotationPeriod, Retention: life + KeyRetentionMargin,
		CacheTTL: cfg.KeyCacheTTL, CheckInterval: cfg.KeyCheckInterval,
	}
}

// KeyPolicyOf is the key policy New derives from cfg, for the admin
// commands.
func KeyPolicyOf(cfg Config) KeyPolicy {
	alg := jose.SignatureAlgorithm(cfg.SigningAlgorithm)
	if alg == "" {
		alg = jose.RS256
	}
	return keyPolicy(cfg, alg)
}

// Keys is the provider's key ring; RunKeyRotation runs its periodic check
// until ctx ends.
func (p *Provider) Keys() *Keyring { return p.storage.keys }

func (p *Provider) RunKeyRotation(ctx context.Context) error { return p.storage.keys.Run(ctx) }

// Identity is who the login UI authenticated.
type Identity struct {
	Subject   string
	Claims    store.Claims
	AuthTime  time.Time
	AMR       []string
	SessionID string // the session's store.Session.Ref, never its cookie value
}

// New builds the provider. It does not touch Redis: the signing key is
// loaded (or generated) on first use.
func New(cfg Config, st Store) (*Provider, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	alg := jose.SignatureAlgorithm(cfg.SigningAlgorithm)
	if alg == "" {
		alg = jose.RS256
	}
	if alg != jose.RS256 && alg != jose.ES256 {
		return nil, fmt.Errorf("unsupported signing algorithm %q", alg)
	}
	issuer := strings.TrimSuffix(cfg.Issuer, "/")
	iu, err := url.Parse(issuer)
	if err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	loginURL := issuer + cfg.LoginPath + "?authRequestID="
	seal, err := newRotatingSealer(cfg.CryptoKey, cfg.PreviousCryptoKeys)
	if err != nil {
		return nil, err
	}
	p := &Provider{issuer: issuer, clients: make(map[string]*Client)}
	s := &storage{
		store:   st,
		clients: make(map[string]*opClient),
		life:    cfg.Lifetimes,
		now:     cfg.Now,
		keys:    newKeyring(st, seal, keyPolicy(cfg, alg), cfg.Now, cfg.Logger),
		log:     cfg.Logger,
	}
	var origins []string
	for i := range cfg.Clients {
		c := &cfg.Clients[i]
		p.clients[c.ID] = c
		s.clients[c.ID] = &opClient{
			Client:      c,
			idTokenLife: cfg.Lifetimes.IDToken,
			loginURL:    func(id string) string { return loginURL + url.QueryEscape(id) },
		}
		for _, r := range c.RedirectURIs {
			if u, err := url.Parse(r); err == nil {
				origins = append(origins, u.Scheme+"://"+u.Host)
			}
		}
	}
	p.storage = s

	// Browsers of registered sites only, and never with credentials: the
	// default allows any origin with cookies.
	corsOpts := cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost},
		AllowedHeaders: []string{"Authorization", "Content-Type"},
	}
	p.cors = cors.New(corsOpts)
	p.corsOpts = corsOpts
	opts := []op.Option{op.WithCORSOptions(&corsOpts), op.WithCrypto(newRotatingCrypto(cfg.CryptoKey, cfg.PreviousCryptoKeys))}
	if iu.Scheme == "http" {
		// Configuration refuses http unless insecure_loopback and a
		// loopback host.
		opts = append(opts, op.WithAllowInsecure())
	}
	p.op, err = op.NewProvider(&op.Config{
		CryptoKey:                cfg.CryptoKey,
		CryptoKeyId:              "k1",
		DefaultLogoutRedirectURI: "/",
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		SupportedUILocales:       []language.Tag{language.French},
		// Logout tokens carry sid, and ID tokens too (SetUserinfoFromRequest).
		BackChannelLogoutSupported:        true,
		BackChannelLogoutSessionSupported: true,
	}, s, op.StaticIssuer(issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("create provider: %w", err)
	}
	p.api = p.newAPIHandler()
	return p, nil
}

// Handler serves the protocol endpoints that browsers visit (authorize
// and its callback, end_session, keys, healthz); APIHandler serves the
// ones that programs call.
func (p *Provider) Handler() http.Handler { return p.op }

// CORS applies the library's CORS policy to a handler placed in front of
// it: preflights are answered, and its own errors reach the browser-based
// clients that made the request.
func (p *Provider) CORS(h http.Handler) http.Handler { return p.cors.Handler(h) }

// Ready reports whether the shared state (Redis) answers: without it no
// page or endpoint can work.
func (p *Provider) Ready(ctx context.Context) error { return p.storage.Health(ctx) }

// Issuer is the configured issuer, without a trailing slash.
func (p *Provider) Issuer() string { return p.issuer }

// Client returns a registered client.
func (p *Provider) Client(id string) (*Client, bool) {
	c, ok := p.clients[id]
	return c, ok
}

// AuthRequest returns a pending sign-in; store.ErrNotFound when it is
// unknown or expired.
func (p *Provider) AuthRequest(ctx context.Context, id string) (*store.AuthRequest, error) {
	return p.storage.authRequest(ctx, id)
}

// loadedKey holds the auth request a request already read (WithLoaded).
type loadedKey struct{}

// WithLoaded remembers ar for the rest of the HTTP request, so that the
// handlers after the one that checked it do not read it again from Redis.
// Only the record as read is remembered: a write goes to Redis as before.
func WithLoaded(ctx context.Context, ar *store.AuthRequest) context.Context {
	return context.WithValue(ctx, loadedKey{}, *ar)
}

// ErrAlreadyDone is returned when a sign-in was already completed for
// another person.
var ErrAlreadyDone = errors.New("auth request already completed")

// Complete records who signed in; the browser then follows CallbackURL.
//
// ar is the request as this HTTP request read it: when nobody changed it
// since, recording takes one command.
func (p *Provider) Complete(ctx context.Context, loaded *store.AuthRequest, who Identity) (*store.AuthRequest, error) {
	return p.complete(ctx, loaded, who, false)
}

// ErrCodeIssued: the request's one code was minted already (another tab,
// or the same form sent twice).
var ErrCodeIssued = errors.New("auth request already has its code")

// completingKey carries the completion CodeURL has yet to write: the code
// is written with it (SaveAuthCode).
type completingKey struct{}

type completing struct {
	loaded, done *store.AuthRequest
	who          Identity
	open         *store.Session // to save with the code; nil when none
	forget       []string       // keys to delete with it (store.CompleteWithCode)
	saved        bool           // open was saved
}

// CodeURL completes loaded for who and returns the site's redirect URI
// with the code, as the library's callback builds it (response mode,
// state, iss), for this same request to send the browser to (with 303
// after a POST: the library's own redirect is a 302). The completion
// reserves the request's one code and is written with it, in one round
// trip, when nobody changed the request since this HTTP request read it.
//
// open, when not nil, is the session this request opened for who (not yet
// saved): it is saved in that same round trip, so its cookie is for the
// caller to set once CodeURL succeeded. forget names keys deleted in that
// round trip too (store.CompleteWithCode); after an error, they may not be.
func (p *Provider) CodeURL(ctx context.Context, loaded *store.AuthRequest, who Identity, open *store.Session, forget ...string) (string, error) {
	done := loaded.Record()
	if err := p.storage.apply(&done, who, true); err != nil {
		return "", err
	}
	c := &completing{loaded: loaded, done: &done, who: who, open: open, forget: forget}
	ctx = op.ContextWithIssuer(context.WithValue(ctx, completingKey{}, c), p.issuer)
	// Only response_mode=query is accepted.
	to, err := op.BuildAuthResponseCallbackURL(ctx, authRequest{AuthRequest: &done}, codeMinter{p.op})
	if err != nil {
		return "", err
	}
	if open != nil && !c.saved {
		return "", errors.New("provider: the code was minted without saving the session")
	}
	return to, nil
}

// codeMinter is the library's Authorizer with random codes: the library
// would encrypt the request's id into each code (a JWE, a few percent of
// a sign-in's CPU), but a code is only ever looked up by its hash
// (store.PeekCode), never decrypted.
type codeMinter struct{ *op.Provider }

func (codeMinter) Crypto() op.Crypto { return randomCodes{} }

// randomCodes mints codes of 130 random bits.
type randomCodes struct{}

func (randomCodes) Encrypt(string) (string, error) { return rand.Text(), nil }

func (randomCodes) Decrypt(string) (string, error) {
	return "", errors.New("provider: codes are looked up, not decrypted")
}

func (p *Provider) complete(ctx context.Context, loaded *store.AuthRequest, who Identity, reserveCode bool) (*store.AuthRequest, error) {
	return p.storage.store.UpdateLoadedAuthRequest(ctx, loaded, func(ar *store.AuthRequest) error {
		return p.storage.apply(ar, who, reserveCode)
	})
}

// apply records who signed in through ar and, with reserveCode, that its
// one code is being minted.
func (s *storage) apply(ar *store.AuthRequest, who Identity, reserveCode bool) error {
	if ar.Done && ar.Subject != who.Subject {
		return ErrAlreadyDone
	}
	if reserveCode {
		if ar.CodeIssued {
			return ErrCodeIssued
		}
		ar.CodeIssued = true
		s.codeMinted(ar)
	}
	ar.Done = true
	ar.Subject = who.Subject
	ar.Claims = scopedClaims(who.Claims, ar.Scopes)
	ar.AuthTime = who.AuthTime
	ar.AMR = who.AMR
	ar.SessionID = who.SessionID
	return nil
}

// CallbackURL is where the browser goes once the sign-in is complete:
// the library mints the code there and redirects to the client.
func (p *Provider) CallbackURL(ctx context.Context, id string) string {
	return op.AuthCallbackURL(p.op)(op.ContextWithIssuer(ctx, p.issuer), id)
}
