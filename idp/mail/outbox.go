package mail

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Outbox queues mails for a Sender. It is safe for concurrent use and
// never talks to the relay: Enqueue costs one Redis round trip whether or
// not the relay is up, so a page never waits for SMTP.
type Outbox struct {
	cfg    Config
	seal   *sealer
	domain string // of FromAddress, for Message-IDs
}

// NewOutbox checks cfg (its SMTP part is not used) and returns an Outbox.
// It does not contact Redis.
func NewOutbox(cfg Config) (*Outbox, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s, err := newSealer(cfg.Key, cfg.PreviousKeys...)
	if err != nil {
		return nil, err
	}
	return &Outbox{cfg: cfg, seal: s, domain: domainOf(cfg.FromAddress)}, nil
}

// payloadVersion is the format of the sealed payload and of its fields.
const payloadVersion = "1"

// payload is what an outbox entry carries, sealed.
type payload struct {
	To        string `json:"to"`
	Subject   string `json:"subject"`
	Text      string `json:"text"`
	HTML      string `json:"html,omitempty"`
	MessageID string `json:"message_id"`
}

// Entry fields: "v" the payload version, "at" the enqueue time (Unix
// milliseconds, from Config.Now; it also dates the mail), "p" the sealed
// payload. Nothing readable but the time.
const (
	fieldVersion = "v"
	fieldAt      = "at"
	fieldPayload = "p"
)

// Enqueue validates m and appends it, sealed, to the outbox. Its errors
// wrap ErrInvalidMessage for a message that must not be sent, or the
// Redis error.
func (o *Outbox) Enqueue(ctx context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	plain, err := json.Marshal(payload{To: m.To, Subject: m.Subject, Text: m.Text, HTML: m.HTML, MessageID: newMessageID(o.domain)})
	if err != nil {
		return fmt.Errorf("mail: encode: %w", err)
	}
	at := strconv.FormatInt(o.cfg.Now().UnixMilli(), 10)
	err = o.cfg.Client.XAdd(ctx, &redis.XAddArgs{
		Stream: outboxKey(o.cfg.Prefix),
		MaxLen: o.cfg.MaxLen,
		Approx: true,
		Values: []any{fieldVersion, payloadVersion, fieldAt, at, fieldPayload, o.seal.seal(plain, at)},
	}).Err()
	if err != nil {
		return fmt.Errorf("mail: enqueue: %w", err)
	}
	return nil
}

// Keys, all in the {mail} hash tag so that one MULTI may touch several of
// them in a Redis Cluster (see doc.go).
func outboxKey(prefix string) string        { return prefix + "{mail}:outbox" }
func deadKey(prefix string) string          { return prefix + "{mail}:dead" }
func markerKey(prefix, entry string) string { return prefix + "{mail}:sent:" + entry }

// group is the consumer group of every Sender.
const group = "senders"

// newMessageID returns a 128-bit random Message-ID in our domain, made at
// enqueue time so that every attempt sends the same one: a receiver that
// deduplicates by Message-ID hides a rare second delivery.
func newMessageID(domain string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b) + "@" + domain
}

func domainOf(addr string) string {
	return addr[strings.LastIndexByte(addr, '@')+1:]
}
