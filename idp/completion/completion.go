package completion

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/loop"
)

// Sessions ends everything a person is signed in with, except the session
// a change was made from (*store.Store).
type Sessions interface {
	RevokeSubject(ctx context.Context, subject, keepSession string) error
	SessionKeptFor(ctx context.Context, jobID string) (string, error)
}

// Backchannel tells the relying parties of a person's sessions that they
// end (idp/backchannel), before they are revoked.
type Backchannel interface {
	SessionsEnding(ctx context.Context, subject, keepSession string) error
}

// People finds the account of a subject in the directory, for the address
// the notice goes to (*ldapauth.Directory, *devdir.Directory).
type People interface {
	FindBySubject(ctx context.Context, sub string) (u ldapauth.User, found bool, err error)
}

// Throttle forgets a person's failed sign-ins once a new password is
// written: whoever guessed at the old one must not keep its owner out.
type Throttle interface {
	ForgetPerson(ctx context.Context, u ldapauth.User) error
}

// Mail is one message to queue.
type Mail struct{ To, Subject, Text, HTML string }

// Outbox queues mail; the sending happens elsewhere (idp/mail).
type Outbox interface {
	Enqueue(ctx context.Context, m Mail) error
}

// Composer renders the notice of a change applied at the given time; the
// consumer fills To.
type Composer func(ctx context.Context, at time.Time) (Mail, error)

// Config configures a Consumer. Zero values get the documented defaults.
type Config struct {
	// Client is required; Stream is job.Queue.EventsStream().
	Client redis.UniversalClient
	Stream string
	// Prefix starts the marker keys; "": "idp:".
	Prefix string
	// Group is the consumer group of every web process; "": "web".
	Group string
	// Consumer names this process in the group; "": host-pid.
	Consumer string

	Sessions Sessions
	// Backchannel: nil when no relying party is told.
	Backchannel Backchannel
	People      People
	// Throttle: nil when sign-ins are not throttled.
	Throttle Throttle
	Outbox   Outbox
	Compose  Composer

	// Block is how long one read waits for new events; Run notices that
	// its context is done within Block. 0: 2s.
	Block time.Duration
	// ClaimAfter is how long an entry stays pending (its consumer gone, or
	// its handling failed) before it is claimed again. 0: 30s.
	ClaimAfter time.Duration
	// Lease bounds one attempt at an event; another process waits for it
	// to end before trying the same job. 0: 1m.
	Lease time.Duration
	// MaxAge: older events are acknowledged without effect. 0: 24h.
	MaxAge time.Duration
	// Now is the clock events are dated with (the queue's); nil: time.Now.
	Now func() time.Time
	// Log: nil discards.
	Log *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.Prefix == "" {
		c.Prefix = "idp:"
	}
	if c.Group == "" {
		c.Group = "web"
	}
	if c.Consumer == "" {
		host, _ := os.Hostname()
		c.Consumer = host + "-" + strconv.Itoa(os.Getpid())
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Block, 2*time.Second)
	def(&c.ClaimAfter, 30*time.Second)
	def(&c.Lease, time.Minute)
	def(&c.MaxAge, 24*time.Hour)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	var errs []error
	for _, m := range []struct {
		missing bool
		what    string
	}{
		{c.Client == nil, "no Redis client"}, {c.Stream == "", "no stream"},
		{c.Sessions == nil, "no sessions"}, {c.People == nil, "no directory"},
		{c.Outbox == nil, "no outbox"}, {c.Compose == nil, "no composer"},
	} {
		if m.missing {
			errs = append(errs, errors.New(m.what))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("completion: %w", err)
	}
	return c, nil
}

// Consumer reacts to settled password changes. Run it once per process.
type Consumer struct {
	cfg     Config
	release *redis.Script
}

// New checks cfg and returns a Consumer. It does not contact Redis.
func New(cfg Config) (*Consumer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Consumer{cfg: cfg, release: redis.NewScript(releaseScript)}, nil
}

// Run handles events until ctx is done, then returns nil within Block.
// Failures of Redis, the directory or the outbox are logged and retried,
// never returned: an event whose handling failed stays pending and is
// claimed again after ClaimAfter.
func (c *Consumer) Run(ctx context.Context) error {
	log := c.cfg.Log
	log.Info("completion: consumer started", "consumer", c.cfg.Consumer)
	g := &loop.Group{
		Client: c.cfg.Client, Stream: c.cfg.Stream, Group: c.cfg.Group, Consumer: c.cfg.Consumer,
		Block:      c.cfg.Block,
		ClaimAfter: func(int64) time.Duration { return c.cfg.ClaimAfter },
		Handle: func(ctx context.Context, m redis.XMessage, _ int64) (loop.Next, error) {
			return loop.Continue, c.handle(ctx, m)
		},
	}
	g.Run(ctx, log, "completion: events unavailable")
	log.Info("completion: consumer stopped", "consumer", c.cfg.Consumer)
	return nil
}

func newToken(consumer string) string {
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	return leasePfx + consumer + ":" + base64.RawURLEncoding.EncodeToString(b)
}
