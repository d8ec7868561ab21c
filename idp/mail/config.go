package mail

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// TLSMode says how the connection to the relay is protected.
type TLSMode string

const (
	// ImplicitTLS is TLS from the first byte (SMTPS, usually port 465).
	ImplicitTLS TLSMode = "implicit_tls"
	// StartTLS upgrades a plain connection with STARTTLS, which is
	// required: a relay that does not offer it is an error, never a
	// downgrade (usually port 587).
	StartTLS TLSMode = "starttls"
	// Plain is no TLS at all. It is only allowed for a relay on this
	// machine (a loopback host), which then carries the mail further.
	Plain TLSMode = "plain"
)

// SMTP describes the relay every mail is handed to.
type SMTP struct {
	Host string  // required: a host name or IP address, without port
	Port int     // 0: 465 with ImplicitTLS, 587 with StartTLS, 25 with Plain
	TLS  TLSMode // "": StartTLS
	// Username, when set, authenticates with SMTP AUTH (the strongest
	// mechanism both sides know; PLAIN to a loopback relay in Plain mode).
	Username string
	Password string
	CAFile   string        // PEM bundle that verifies the relay; "": the system roots
	HELO     string        // name given in EHLO; "": this machine's host name
	Timeout  time.Duration // dial, and each exchange with the relay; 0: 15s
}

// Config configures an Outbox and a Sender; both must get the same Client,
// Prefix and Key. Zero values get the documented defaults.
type Config struct {
	// Client is required: a single node, Sentinel or Cluster client. Redis
	// must run with AOF and maxmemory-policy noeviction: the outbox is
	// durable only then.
	Client redis.UniversalClient
	// Prefix starts every key; "": "idp:" (as idp/store).
	Prefix string
	// Key encrypts every queued mail (AES-256-GCM), so that a copy of Redis
	// reveals no code, link or address. Required; cmd derives it
	// from secrets.crypto_key with DeriveKey, so it is the same on every
	// replica and never stored.
	Key [32]byte
	// PreviousKeys are keys Key replaced (derived from the previous crypto
	// keys): mails queued under them still open; nothing new uses them.
	PreviousKeys [][32]byte
	// SMTP is the relay; only NewSender needs it.
	SMTP SMTP
	// FromName and FromAddress make the From header; the address is also
	// the envelope sender and gives its domain to Message-IDs.
	// "": « Région Nouvelle-Aquitaine » and noreply@motdepasse.nouvelle-aquitaine.fr.
	FromName    string
	FromAddress string
	// DKIM, when set, signs every mail; nil leaves it to the relay.
	DKIM *DKIM
	// GiveUpAfter is how long after Enqueue a mail may still be sent;
	// after that it goes to the dead letters. 0: 1h.
	GiveUpAfter time.Duration
	// RetryDelay is the wait after a first temporary failure; each further
	// failure doubles it, up to MaxRetryDelay. 0: 30s and 5m (a mail held
	// back longer than that after the relay is back would carry a code
	// that is about to expire).
	RetryDelay    time.Duration
	MaxRetryDelay time.Duration
	// Block is how long one read waits for new mail. Run notices that its
	// context is done within Block, and looks for mail due for a retry at
	// least that often. 0: 2s.
	Block time.Duration
	// MaxLen and DeadMaxLen bound the outbox and the dead letters (approximate
	// trimming, oldest first). 0: 100000 and 10000.
	MaxLen, DeadMaxLen int64
	// Consumer names this process in the consumer group; "": host-pid.
	Consumer string
	// Now is the clock of Date headers and of GiveUpAfter; nil: time.Now.
	Now func() time.Time
	// Metrics records the relay's answers and the mails given up; nil
	// records nothing.
	Metrics Metrics
}

// Metrics records what the Sender does. err is nil when the relay
// accepted the mail.
type Metrics interface {
	SMTPSend(took time.Duration, err error)
	MailGivenUp()
}

// Defaults of Config.
const (
	DefaultFromName    = "Région Nouvelle-Aquitaine"
	DefaultFromAddress = "noreply@motdepasse.nouvelle-aquitaine.fr"
	defaultTimeout     = 15 * time.Second
)

// DeriveKey derives Config.Key from the provider's master key
// (secrets.crypto_key) with HKDF-SHA-256 under a label of its own, so the
// outbox key serves nothing else.
func DeriveKey(master [32]byte) ([32]byte, error) {
	k, err := hkdf.Key(sha256.New, master[:], nil, "idp: mail outbox v1", 32)
	if err != nil {
		return [32]byte{}, fmt.Errorf("mail: derive outbox key: %w", err)
	}
	return [32]byte(k), nil
}

// withDefaults fills in the zero values and reports what cannot work.
func (c Config) withDefaults() (Config, error) {
	if c.Prefix == "" {
		c.Prefix = "idp:"
	}
	if c.FromName == "" {
		c.FromName = DefaultFromName
	}
	if c.FromAddress == "" {
		c.FromAddress = DefaultFromAddress
	}
	c.GiveUpAfter = positive(c.GiveUpAfter, time.Hour)
	c.RetryDelay = positive(c.RetryDelay, 30*time.Second)
	c.MaxRetryDelay = max(positive(c.MaxRetryDelay, 5*time.Minute), c.RetryDelay)
	c.Block = positive(c.Block, 2*time.Second)
	if c.MaxLen <= 0 {
		c.MaxLen = 100_000
	}
	if c.DeadMaxLen <= 0 {
		c.DeadMaxLen = 10_000
	}
	if c.Consumer == "" {
		host, _ := os.Hostname()
		c.Consumer = host + "-" + strconv.Itoa(os.Getpid())
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	var errs []error
	if c.Client == nil {
		errs = append(errs, errors.New("no Redis client"))
	}
	if c.Key == ([32]byte{}) {
		errs = append(errs, errors.New("no outbox key"))
	}
	if a, err := mail.ParseAddress(c.FromAddress); err != nil || a.Address != c.FromAddress || !strings.Contains(c.FromAddress, "@") {
		errs = append(errs, fmt.Errorf("from address %q is not a bare address such as noreply@example.org", c.FromAddress))
	}
	if hasControl(c.FromName) {
		errs = append(errs, errors.New("from name holds control characters"))
	}
	if c.DKIM != nil && strings.Contains(c.FromAddress, "@") {
		if err := c.DKIM.check(c.FromAddress); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("mail: %w", err)
	}
	return c, nil
}

// withDefaults fills in the zero values of the relay settings and reports
// what cannot work.
func (s SMTP) withDefaults() (SMTP, error) {
	if s.TLS == "" {
		s.TLS = StartTLS
	}
	if s.Port == 0 {
		s.Port = map[TLSMode]int{ImplicitTLS: 465, StartTLS: 587, Plain: 25}[s.TLS]
	}
	s.Timeout = positive(s.Timeout, defaultTimeout)
	var errs []error
	switch {
	case s.Host == "":
		errs = append(errs, errors.New("no SMTP host"))
	case net.ParseIP(strings.Trim(s.Host, "[]")) == nil && (strings.ContainsAny(s.Host, ":/@[] ") || hasControl(s.Host)):
		errs = append(errs, fmt.Errorf("SMTP host %q must be a host name or address, without scheme or port", s.Host))
	}
	switch s.TLS {
	case ImplicitTLS, StartTLS:
	case Plain:
		if !isLoopback(s.Host) {
			errs = append(errs, fmt.Errorf("SMTP without TLS is only allowed to a relay on this machine (127.0.0.1, ::1 or localhost), not %q", s.Host))
		}
		if s.CAFile != "" {
			errs = append(errs, errors.New("a CA file is only used with TLS"))
		}
	default:
		errs = append(errs, fmt.Errorf("SMTP TLS mode %q is not %s, %s or %s", s.TLS, ImplicitTLS, StartTLS, Plain))
	}
	if s.Port < 1 || s.Port > 65535 {
		errs = append(errs, fmt.Errorf("SMTP port %d is out of range", s.Port))
	}
	if (s.Username == "") != (s.Password == "") {
		errs = append(errs, errors.New("SMTP username and password go together"))
	}
	if hasControl(s.HELO) || strings.ContainsAny(s.HELO, " ") {
		errs = append(errs, fmt.Errorf("HELO name %q is not a host name", s.HELO))
	}
	if err := errors.Join(errs...); err != nil {
		return s, fmt.Errorf("mail: %w", err)
	}
	return s, nil
}

func positive(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// isLoopback reports whether host names this machine.
func isLoopback(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hasControl reports whether s holds a control character (CR, LF, NUL…).
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}
