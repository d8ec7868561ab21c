// Package backchannel delivers OpenID Connect Back-Channel Logout tokens:
// when a sign-in session ends (logout, or every session of a person ended
// after a new password), each relying party that received tokens through
// it and registered a backchannel_logout_uri is told by a signed logout
// token, POSTed by the provider itself.
//
// Deliveries wait in one Redis sorted set, scored by when they are due:
// ending a session only adds to it, so no page waits for a relying party.
// Every web process delivers what is due; a delivery is leased while it is
// attempted (its score moved past the attempt), so that a process that
// dies mid-attempt leaves it to another. A failed attempt is retried with
// exponential back-off until GiveUpAfter, then dropped with a log line.
package backchannel

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/loop"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
)

// Signer makes a logout token (*provider.Provider).
type Signer interface {
	LogoutToken(ctx context.Context, clientID, sub, sid, jti string, life time.Duration) (string, error)
}

// Config configures a Notifier. Zero durations get the documented defaults.
type Config struct {
	// Client is required.
	Client redis.UniversalClient
	// Prefix starts the key; "": "idp:".
	Prefix string
	Signer Signer
	// URIs maps a client id to its backchannel_logout_uri; clients
	// without one are not told.
	URIs map[string]string
	// Metrics, when set, counts the attempts' outcomes.
	Metrics Metrics
	// CAFile is a PEM bundle of authorities trusted in addition to the
	// system's roots, for relying parties under an internal CA; "": the
	// system's roots alone.
	CAFile string
	// Timeout bounds one POST; 0: 5s.
	Timeout time.Duration
	// FirstRetry is the pause after the first failed attempt, doubled after
	// each further one up to MaxRetry; 0: 5s and 5m.
	FirstRetry, MaxRetry time.Duration
	// GiveUpAfter: a delivery not made by then is dropped; 0: 1h.
	GiveUpAfter time.Duration
	// TokenLifetime is the exp of a token, from its attempt; 0: 2m.
	TokenLifetime time.Duration
	// Poll is how often the set is looked at for due deliveries; one
	// queued by this process is attempted at once. 0: 1s.
	Poll time.Duration
	Now  func() time.Time
	Log  *slog.Logger
}

// Metrics counts what becomes of each attempt to deliver a logout token:
// "delivered", "refused" (by the relying party, not retried), "retried",
// "given_up", "dropped" (the client lost its backchannel_logout_uri).
type Metrics interface {
	BackchannelAttempt(outcome string)
}

// Notifier queues and delivers logout tokens.
type Notifier struct {
	cfg   Config
	http  *http.Client
	key   string
	wake  chan struct{}
	claim *redis.Script
}

// New checks cfg and applies its defaults.
func New(cfg Config) (*Notifier, error) {
	if cfg.Client == nil || cfg.Signer == nil {
		return nil, errors.New("backchannel: Client and Signer are required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "idp:"
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Timeout, 5*time.Second)
	def(&cfg.FirstRetry, 5*time.Second)
	def(&cfg.MaxRetry, 5*time.Minute)
	def(&cfg.GiveUpAfter, time.Hour)
	def(&cfg.TokenLifetime, 2*time.Minute)
	def(&cfg.Poll, time.Second)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	hc := &http.Client{
		Timeout: cfg.Timeout,
		// A redirect is not a delivery: the token goes to the
		// registered address only.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if cfg.CAFile != "" {
		roots, err := systemRootsAnd(cfg.CAFile)
		if err != nil {
			return nil, err
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		hc.Transport = tr
	}
	return &Notifier{
		cfg:   cfg,
		http:  hc,
		key:   cfg.Prefix + "backchannel:due",
		wake:  make(chan struct{}, 1),
		claim: redis.NewScript(claimScript),
	}, nil
}

// systemRootsAnd is the system's roots with the certificates of file
// added: one sender serves every relying party, under a public CA or not.
func systemRootsAnd(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("backchannel: CA file: %w", err)
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		// No system bundle (an image without one): the file's alone.
		roots = x509.NewCertPool()
	}
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("backchannel: CA file %q holds no PEM certificate", file)
	}
	return roots, nil
}

// delivery is one logout token to deliver, as stored (the member of the
// sorted set).
type delivery struct {
	ID       string `json:"id"` // the token's jti
	ClientID string `json:"client"`
	Subject  string `json:"sub,omitempty"`
	SID      string `json:"sid,omitempty"`
	Queued   int64  `json:"queued"` // unix ms
	Attempts int    `json:"attempts,omitempty"`
}

// Ended is a sign-in session that ended.
type Ended struct {
	Subject    string
	SessionRef string   // store.Session.Ref: the sid of its ID tokens
	Clients    []string // store.Session.Clients
}

// FromSession describes the end of sess: under its sid, and under those
// of the sessions it replaced, which some of its sites still know it by.
func FromSession(sess *store.Session) []Ended {
	out := []Ended{{Subject: sess.Subject, SessionRef: sess.Ref, Clients: sess.Clients}}
	for _, ref := range sess.Earlier {
		out = append(out, Ended{Subject: sess.Subject, SessionRef: ref, Clients: sess.Clients})
	}
	return out
}

// Enqueue queues a logout token for each client of each session that
// registered a back-channel URI.
func (n *Notifier) Enqueue(ctx context.Context, ended ...Ended) error {
	now := n.cfg.Now().UnixMilli()
	var members []redis.Z
	for _, e := range ended {
		for _, c := range e.Clients {
			if n.cfg.URIs[c] == "" {
				continue
			}
			b, err := json.Marshal(delivery{ID: store.NewID(), ClientID: c, Subject: e.Subject, SID: e.SessionRef, Queued: now})
			if err != nil {
				return fmt.Errorf("backchannel: encode: %w", err)
			}
			members = append(members, redis.Z{Score: float64(now), Member: string(b)})
		}
	}
	if len(members) == 0 {
		return nil
	}
	if err := n.cfg.Client.ZAdd(ctx, n.key, members...).Err(); err != nil {
		return fmt.Errorf("backchannel: queue: %w", err)
	}
	select {
	case n.wake <- struct{}{}:
	default:
	}
	return nil
}

// claimScript takes up to ARGV[2] deliveries due at ARGV[1] and leases
// them until ARGV[3]: another process sees them again only then.
//
//go:embed claim.lua
var claimScript string

// batch is how many deliveries one step attempts at once.
const batch = 16

// Run delivers until ctx is done. When Redis fails, loop.Run logs it and
// pauses with its own back-off.
func (n *Notifier) Run(ctx context.Context) error {
	t := time.NewTicker(n.cfg.Poll)
	defer t.Stop()
	loop.Run(ctx, n.cfg.Log, "backchannel: cannot read the deliveries", func(ctx context.Context) error {
		for {
			more, err := n.step(ctx)
			if err != nil {
				return err
			}
			if !more {
				break
			}
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-n.wake:
		}
		return nil
	})
	return nil
}

// step attempts the deliveries due now and reports whether a full batch
// was taken (more may be due).
func (n *Notifier) step(ctx context.Context) (bool, error) {
	now := n.cfg.Now()
	// The lease outlasts an attempt: only a process that died leaves it.
	lease := now.Add(2*n.cfg.Timeout + 5*time.Second)
	got, err := n.claim.Run(ctx, n.cfg.Client, []string{n.key}, now.UnixMilli(), batch, lease.UnixMilli()).StringSlice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, err
	}
	var wg sync.WaitGroup
	for _, m := range got {
		wg.Go(func() { n.attempt(ctx, m) })
	}
	wg.Wait()
	return len(got) == batch, nil
}

func (n *Notifier) count(outcome string) {
	if n.cfg.Metrics != nil {
		n.cfg.Metrics.BackchannelAttempt(outcome)
	}
}

// attempt makes one attempt at a claimed delivery and records the outcome.
func (n *Notifier) attempt(ctx context.Context, member string) {
	var d delivery
	if err := json.Unmarshal([]byte(member), &d); err != nil {
		n.cfg.Log.Error("backchannel: malformed delivery dropped", "err", err)
		n.remove(ctx, member)
		return
	}
	log := n.cfg.Log.With("client_id", d.ClientID, "sub", d.Subject, "delivery", d.ID)
	uri := n.cfg.URIs[d.ClientID]
	if uri == "" {
		log.Warn("backchannel: the client no longer has a backchannel_logout_uri: delivery dropped")
		n.count("dropped")
		n.remove(ctx, member)
		return
	}
	err := n.post(ctx, uri, d)
	var perm permanent
	switch {
	case err == nil:
		log.Info("backchannel: logout token delivered", "attempts", d.Attempts+1)
		n.count("delivered")
		n.remove(ctx, member)
		return
	case errors.As(err, &perm):
		log.Warn("backchannel: logout token refused by the relying party: not retried", "err", err)
		n.count("refused")
		n.remove(ctx, member)
		return
	}
	queued := time.UnixMilli(d.Queued)
	pause := n.pause(d.Attempts)
	next := n.cfg.Now().Add(pause)
	if next.Sub(queued) > n.cfg.GiveUpAfter {
		log.Error("backchannel: logout token not delivered, given up", "attempts", d.Attempts+1, "err", err,
			loop.Duration("queued_for", n.cfg.Now().Sub(queued).Round(time.Second)))
		n.count("given_up")
		n.remove(ctx, member)
		return
	}
	log.Warn("backchannel: logout token not delivered, will retry", "attempts", d.Attempts+1, "err", err, loop.Duration("retry_in", pause))
	n.count("retried")
	d.Attempts++
	b, _ := json.Marshal(d)
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, err = n.cfg.Client.TxPipelined(bg, func(p redis.Pipeliner) error {
		p.ZRem(bg, n.key, member)
		p.ZAdd(bg, n.key, redis.Z{Score: float64(next.UnixMilli()), Member: string(b)})
		return nil
	})
	if err != nil {
		// The lease ends by itself: the delivery is attempted again then.
		log.Warn("backchannel: cannot record the retry", "err", err)
	}
}

// pause is the wait after the attempts+1-th failure.
func (n *Notifier) pause(attempts int) time.Duration {
	p := n.cfg.FirstRetry
	for range attempts {
		p *= 2
		if p >= n.cfg.MaxRetry {
			return n.cfg.MaxRetry
		}
	}
	return min(p, n.cfg.MaxRetry)
}

func (n *Notifier) remove(ctx context.Context, member string) {
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := n.cfg.Client.ZRem(bg, n.key, member).Err(); err != nil {
		n.cfg.Log.Warn("backchannel: cannot remove a finished delivery; it may be made again", "err", err)
	}
}

// permanent is an answer that a retry would not change.
type permanent struct{ status int }

func (p permanent) Error() string { return "status " + strconv.Itoa(p.status) }

// post signs the token now (the current key, a fresh iat) and POSTs it.
func (n *Notifier) post(ctx context.Context, uri string, d delivery) error {
	tok, err := n.cfg.Signer.LogoutToken(ctx, d.ClientID, d.Subject, d.SID, d.ID, n.cfg.TokenLifetime)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	body := url.Values{"logout_token": {tok}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := n.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the client_id in the log line names the address
		}
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		return nil
	case s >= 400 && s < 500 && s != http.StatusRequestTimeout && s != http.StatusTooManyRequests:
		// The relying party read the token and refused it (the spec's
		// 400): the same token again would be refused again.
		return permanent{status: s}
	default:
		return fmt.Errorf("status %d", s)
	}
}

// Sessions reads the sessions of a person (*store.Store).
type Sessions interface {
	SessionsOf(ctx context.Context, subject string) ([]string, error)
	SessionByRef(ctx context.Context, ref string) (*store.Session, error)
}

// SessionsEnding queues the logout tokens of subject's sessions but
// keepSession, which are about to be revoked: called before the
// revocation, which deletes the record of the sites each session served.
func (n *Notifier) SessionsEnding(ctx context.Context, st Sessions, subject, keepSession string) error {
	refs, err := st.SessionsOf(ctx, subject)
	if err != nil {
		return fmt.Errorf("backchannel: sessions: %w", err)
	}
	var ended []Ended
	for _, ref := range refs {
		if ref == keepSession {
			continue
		}
		sess, err := st.SessionByRef(ctx, ref)
		switch {
		case errors.Is(err, store.ErrNotFound):
			continue
		case err != nil:
			return fmt.Errorf("backchannel: session: %w", err)
		}
		ended = append(ended, FromSession(sess)...)
	}
	return n.Enqueue(ctx, ended...)
}
