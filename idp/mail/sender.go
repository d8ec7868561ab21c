package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	gomail "github.com/wneessen/go-mail"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/loop"
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
	s, err := newSealer(cfg.Key, cfg.PreviousKeys...)
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
// returned: a Sender outlives outages of both. Pending mail is retried
// once its backoff is over: the mail that failed before, and the mail a
// crashed or stopped Sender had claimed; an entry delivered n times waits
// backoff(n) after its last delivery, as Redis counts idle time.
func (s *Sender) Run(ctx context.Context) error {
	s.log.Info("mail: sender started", "consumer", s.cfg.Consumer)
	g := &loop.Group{
		Client: s.cfg.Client, Stream: outboxKey(s.cfg.Prefix), Group: group, Consumer: s.cfg.Consumer,
		Block: s.cfg.Block, ClaimAfter: s.backoff,
		Handle: func(ctx context.Context, m redis.XMessage, attempts int64) (loop.Next, error) {
			out, err := s.handle(ctx, m, attempts)
			if out == relayDown {
				return loop.Wait, err // the others would fail alike; they wait for their backoff
			}
			return loop.Continue, err
		},
	}
	g.Run(ctx, s.log, "mail: outbox unavailable")
	s.log.Info("mail: sender stopped", "consumer", s.cfg.Consumer)
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
