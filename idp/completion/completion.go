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
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
)

// Sessions ends everything a person is signed in with, except the session
// a change was made from (*store.Store).
type Sessions interface {
	RevokeSubject(ctx context.Context, subject, keepSession string) error
	SessionKeptFor(ctx context.Context, jobID string) (string, error)
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
	People   People
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
// never returned.
func (c *Consumer) Run(ctx context.Context) error {
	log := c.cfg.Log
	log.Info("completion: consumer started", "consumer", c.cfg.Consumer)
	pause := time.Duration(0)
	groupReady := false
	for ctx.Err() == nil {
		err := c.cycle(ctx, &groupReady)
		if err == nil {
			pause = 0
			continue
		}
		if ctx.Err() != nil {
			break
		}
		if isRedisError(err, "NOGROUP") {
			groupReady = false // the stream was deleted (Redis flushed or restarted empty)
		}
		pause = min(max(2*pause, 100*time.Millisecond), 5*time.Second)
		log.Warn("completion: events unavailable", "err", err, "retry_in", pause)
		sleep(ctx, pause)
	}
	log.Info("completion: consumer stopped", "consumer", c.cfg.Consumer)
	return nil
}

// cycle reclaims what was left pending, then waits up to Block for new
// events and handles them. It returns Redis errors only; an event whose
// handling failed stays pending and is claimed again later.
func (c *Consumer) cycle(ctx context.Context, groupReady *bool) error {
	if !*groupReady {
		// From the start of the stream: events published before any web
		// process ran are handled too (MaxAge bounds how old).
		err := c.cfg.Client.XGroupCreateMkStream(ctx, c.cfg.Stream, c.cfg.Group, "0").Err()
		if err != nil && !isRedisError(err, "BUSYGROUP") {
			return fmt.Errorf("completion: create consumer group: %w", err)
		}
		*groupReady = true
	}
	if err := c.reclaim(ctx); err != nil {
		return err
	}
	streams, err := c.cfg.Client.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: c.cfg.Group, Consumer: c.cfg.Consumer,
		Streams: []string{c.cfg.Stream, ">"}, Count: 10, Block: c.cfg.Block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("completion: read events: %w", err)
	}
	for _, st := range streams {
		for _, m := range st.Messages {
			if ctx.Err() != nil {
				return nil // left pending: claimed again later
			}
			if err := c.handle(ctx, m); err != nil {
				return err
			}
		}
	}
	return nil
}

// pendingPage bounds one XPENDING call; reclaim reads at most ten pages.
const pendingPage = 100

// reclaim claims and handles the entries pending for at least ClaimAfter.
func (c *Consumer) reclaim(ctx context.Context) error {
	start := "-"
	for range 10 {
		pending, err := c.cfg.Client.XPendingExt(ctx, &redis.XPendingExtArgs{
			Stream: c.cfg.Stream, Group: c.cfg.Group,
			Idle: c.cfg.ClaimAfter, Start: start, End: "+", Count: pendingPage,
		}).Result()
		if err != nil {
			return fmt.Errorf("completion: list pending events: %w", err)
		}
		for _, p := range pending {
			if ctx.Err() != nil {
				return nil
			}
			// The same minimum idle time: if another process claimed it
			// since XPENDING, nothing comes back.
			claimed, err := c.cfg.Client.XClaim(ctx, &redis.XClaimArgs{
				Stream: c.cfg.Stream, Group: c.cfg.Group, Consumer: c.cfg.Consumer,
				MinIdle: c.cfg.ClaimAfter, Messages: []string{p.ID},
			}).Result()
			if err != nil {
				return fmt.Errorf("completion: claim pending event: %w", err)
			}
			for _, m := range claimed {
				if m.ID != p.ID {
					continue
				}
				if err := c.handle(ctx, m); err != nil {
					return err
				}
			}
		}
		if len(pending) < pendingPage {
			return nil
		}
		start = "(" + pending[len(pending)-1].ID
	}
	return nil
}

func isRedisError(err error, code string) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), code+" ")
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func newToken(consumer string) string {
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	return leasePfx + consumer + ":" + base64.RawURLEncoding.EncodeToString(b)
}
