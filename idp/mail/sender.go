package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	gomail "github.com/wneessen/go-mail"
)

// Sender drains the outbox into the relay. Run it once per process; any
// number of processes may drain one outbox, each mail is then sent by one
// of them (see doc.go for the guarantees).
type Sender struct {
	cfg     Config
	seal    *sealer
	client  *gomail.Client // one per Sender: DialAndSendWithContext dials per call
	log     *slog.Logger
	lease   time.Duration // how long an attempt may hold an entry
	release *redis.Script
}

// NewSender checks cfg, including its SMTP part and CA file, and returns a
// Sender. It contacts neither Redis nor the relay. A nil log discards.
func NewSender(cfg Config, log *slog.Logger) (*Sender, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.SMTP, err = cfg.SMTP.withDefaults(); err != nil {
		return nil, err
	}
	s, err := newSealer(cfg.Key)
	if err != nil {
		return nil, err
	}
	client, err := newClient(cfg.SMTP, cfg.DKIM)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sender{
		cfg: cfg, seal: s, client: client, log: log,
		// Dial and greeting share one deadline, the transaction another
		// (go-mail), and QUIT may take a third.
		lease:   3*cfg.SMTP.Timeout + 5*time.Second,
		release: redis.NewScript(releaseScript),
	}, nil
}

// newClient builds the one go-mail client of a Sender; with dkim, it
// signs every message it sends.
func newClient(s SMTP, dkim *DKIM) (*gomail.Client, error) {
	tlsConfig := &tls.Config{ServerName: strings.Trim(s.Host, "[]"), MinVersion: tls.VersionTLS12}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("mail: SMTP CA file: %w", err)
		}
		tlsConfig.RootCAs = x509.NewCertPool()
		if !tlsConfig.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mail: SMTP CA file %q holds no PEM certificate", s.CAFile)
		}
	}
	opts := []gomail.Option{
		gomail.WithPort(s.Port),
		gomail.WithTimeout(s.Timeout),
		gomail.WithTLSConfig(tlsConfig),
	}
	switch s.TLS {
	case ImplicitTLS:
		opts = append(opts, gomail.WithSSL())
	case StartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case Plain:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.HELO != "" {
		opts = append(opts, gomail.WithHELO(s.HELO))
	}
	if dkim != nil {
		opts = append(opts, gomail.WithAlwaysDKIMSign(gomail.NewDKIMSigner(dkim.Domain, dkim.Selector, dkim.Key)))
	}
	if s.Username != "" {
		auth := gomail.SMTPAuthAutoDiscover
		if s.TLS == Plain {
			// PLAIN without TLS: go-mail allows it to a loopback host only.
			auth = gomail.SMTPAuthPlain
		}
		opts = append(opts, gomail.WithSMTPAuth(auth), gomail.WithUsername(s.Username), gomail.WithPassword(s.Password))
	}
	c, err := gomail.NewClient(s.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("mail: SMTP client: %w", err)
	}
	return c, nil
}

// Run sends queued mail until ctx is done, then returns nil within
// Config.Block. Redis and relay failures are logged and retried, never
// returned: a Sender outlives outages of both.
func (s *Sender) Run(ctx context.Context) error {
	s.log.Info("mail: sender started", "consumer", s.cfg.Consumer)
	pause := time.Duration(0)
	groupReady := false
	for ctx.Err() == nil {
		err := s.cycle(ctx, &groupReady)
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
		s.log.Warn("mail: outbox unavailable", "err", err, "retry_in", pause)
		sleep(ctx, pause)
	}
	s.log.Info("mail: sender stopped", "consumer", s.cfg.Consumer)
	return nil
}

// cycle retries what is due, then waits up to Block for new mail and
// sends it. It returns Redis errors only.
func (s *Sender) cycle(ctx context.Context, groupReady *bool) error {
	if !*groupReady {
		if err := s.createGroup(ctx); err != nil {
			return err
		}
		*groupReady = true
	}
	if err := s.retryDue(ctx); err != nil {
		return err
	}
	streams, err := s.cfg.Client.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: group, Consumer: s.cfg.Consumer,
		Streams: []string{outboxKey(s.cfg.Prefix), ">"},
		Count:   10, Block: s.cfg.Block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mail: read outbox: %w", err)
	}
	for _, st := range streams {
		for _, m := range st.Messages {
			if ctx.Err() != nil {
				return nil // left pending: retried by whoever runs next
			}
			out, err := s.handle(ctx, m, 1)
			if err != nil {
				return err
			}
			if out == relayDown {
				return nil // the rest of the batch stays pending, retried later
			}
		}
	}
	return nil
}

// createGroup creates the consumer group (and the stream) unless it
// exists. It starts at the beginning: mail queued before any Sender ran is
// sent too.
func (s *Sender) createGroup(ctx context.Context) error {
	err := s.cfg.Client.XGroupCreateMkStream(ctx, outboxKey(s.cfg.Prefix), group, "0").Err()
	if err != nil && !isRedisError(err, "BUSYGROUP") {
		return fmt.Errorf("mail: create consumer group: %w", err)
	}
	return nil
}

// pendingPage bounds one XPENDING call; retryDue reads at most ten pages
// per cycle.
const pendingPage = 100

// retryDue claims and sends the pending entries whose backoff is over: the
// ones that failed before, and the ones a crashed or stopped Sender had
// claimed. An entry delivered n times waits backoff(n) after its last
// delivery, as Redis counts idle time.
func (s *Sender) retryDue(ctx context.Context) error {
	start := "-"
	for range 10 {
		pending, err := s.cfg.Client.XPendingExt(ctx, &redis.XPendingExtArgs{
			Stream: outboxKey(s.cfg.Prefix), Group: group,
			Idle: s.cfg.RetryDelay, Start: start, End: "+", Count: pendingPage,
		}).Result()
		if err != nil {
			return fmt.Errorf("mail: list pending mail: %w", err)
		}
		for _, p := range pending {
			wait := s.backoff(p.RetryCount)
			if p.Idle < wait || ctx.Err() != nil {
				continue
			}
			// XCLAIM with the same minimum idle time: if another Sender
			// claimed it since XPENDING, nothing is returned.
			claimed, err := s.cfg.Client.XClaim(ctx, &redis.XClaimArgs{
				Stream: outboxKey(s.cfg.Prefix), Group: group, Consumer: s.cfg.Consumer,
				MinIdle: wait, Messages: []string{p.ID},
			}).Result()
			if err != nil {
				return fmt.Errorf("mail: claim pending mail: %w", err)
			}
			for _, m := range claimed {
				if m.ID != p.ID {
					continue // deleted meanwhile (trimmed)
				}
				out, err := s.handle(ctx, m, p.RetryCount+1)
				if err != nil {
					return err
				}
				if out == relayDown {
					return nil // the others would fail alike; they wait for the next cycle
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

// backoff is the wait after the n-th delivery of an entry failed:
// RetryDelay, doubled at each further failure, at most MaxRetryDelay.
func (s *Sender) backoff(n int64) time.Duration {
	d := s.cfg.RetryDelay
	for i := int64(1); i < n && d < s.cfg.MaxRetryDelay; i++ {
		d *= 2
	}
	return min(d, s.cfg.MaxRetryDelay)
}

// isRedisError reports whether err wraps a reply of Redis starting with
// code, such as NOGROUP.
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
