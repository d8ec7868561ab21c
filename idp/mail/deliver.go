package mail

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	gomail "github.com/wneessen/go-mail"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/loop"
)

// outcome is what became of one entry after handle.
type outcome int

const (
	settled   outcome = iota // sent, found sent already, or dead-lettered: gone from the outbox
	retry                    // a temporary failure: left pending, retried after its backoff
	busy                     // another Sender holds it: left alone
	relayDown                // the relay could not be reached: retried, and the others should wait too
)

// entry is an outbox entry as read from Redis.
type entry struct {
	id       string
	at       string // enqueue time, Unix milliseconds
	enqueued time.Time
	sealed   []byte
}

func parseEntry(m redis.XMessage) (entry, error) {
	e := entry{id: m.ID}
	v, _ := m.Values[fieldVersion].(string)
	e.at, _ = m.Values[fieldAt].(string)
	p, _ := m.Values[fieldPayload].(string)
	ms, err := strconv.ParseInt(e.at, 10, 64)
	if v != payloadVersion || err != nil || p == "" {
		return e, errors.New("malformed entry")
	}
	e.enqueued, e.sealed = time.UnixMilli(ms), []byte(p)
	return e, nil
}

// bookkeeping is how long Redis writes after an attempt may take, even
// when Run's context is done: a mail that was sent must be recorded so.
const bookkeeping = 5 * time.Second

// handle tries to send one claimed entry, delivered for the attempts-th
// time, and settles it or leaves it pending. It returns an error only when
// Redis failed; the entry then stays pending and is retried.
func (s *Sender) handle(ctx context.Context, m redis.XMessage, attempts int64) (outcome, error) {
	e, err := parseEntry(m)
	if err != nil {
		return settled, s.deadLetter(ctx, m, e, attempts, err.Error())
	}
	token, state, err := s.acquire(ctx, e.id)
	switch {
	case err != nil:
		return busy, err
	case state == markerSent:
		// Sent by an attempt that stopped before acknowledging it.
		s.log.Info("mail: already sent, acknowledged", "entry", e.id)
		return settled, s.finish(ctx, e.id)
	case state == markerBusy:
		return busy, nil
	}
	if age := s.cfg.Now().Sub(e.enqueued); age >= s.cfg.GiveUpAfter {
		return settled, s.deadLetter(ctx, m, e, attempts, fmt.Sprintf("not sent within %s", s.cfg.GiveUpAfter))
	}
	plain, err := s.seal.open(e.sealed, e.at)
	if err != nil {
		return settled, s.deadLetter(ctx, m, e, attempts, "payload "+err.Error()+" (was the mail key changed?)")
	}
	var p payload
	if err := json.Unmarshal(plain, &p); err != nil {
		return settled, s.deadLetter(ctx, m, e, attempts, "payload is not a mail")
	}
	msg, err := s.compose(p, e.enqueued)
	if err != nil {
		return settled, s.deadLetter(ctx, m, e, attempts, err.Error())
	}

	began := time.Now()
	err = s.client.DialAndSendWithContext(ctx, msg)
	if m := s.cfg.Metrics; m != nil && ctx.Err() == nil {
		if msg.IsDelivered() {
			m.SMTPSend(time.Since(began), nil)
		} else {
			m.SMTPSend(time.Since(began), err)
		}
	}
	if err == nil || msg.IsDelivered() {
		// A failure after the relay accepted DATA (RSET, QUIT) is no
		// reason to send again.
		s.log.Info("mail: sent", "entry", e.id, "attempt", attempts, "message_id", p.MessageID)
		return settled, s.markSent(ctx, e.id)
	}
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeeping)
	defer cancel()
	if rerr := s.release.Run(bg, s.cfg.Client, []string{markerKey(s.cfg.Prefix, e.id)}, token).Err(); rerr != nil && !errors.Is(rerr, redis.Nil) {
		s.log.Warn("mail: could not release an attempt early; it expires by itself", "entry", e.id, "err", rerr)
	}
	if ctx.Err() != nil {
		return retry, nil // stopping: left pending
	}
	kind, why := classify(err)
	if kind == permanent {
		return settled, s.deadLetter(ctx, m, e, attempts, why)
	}
	if s.cfg.Now().Sub(e.enqueued) >= s.cfg.GiveUpAfter {
		return settled, s.deadLetter(ctx, m, e, attempts, fmt.Sprintf("not sent within %s; last error: %s", s.cfg.GiveUpAfter, why))
	}
	s.log.Warn("mail: not sent, will retry", "entry", e.id, "attempt", attempts, loop.Duration("retry_in", s.backoff(attempts)), "err", why)
	if kind == unreachable {
		return relayDown, nil
	}
	return retry, nil
}

// compose builds the go-mail message: From, one To, Subject, the
// Message-ID and Date fixed at enqueue time, the headers that keep
// auto-responders quiet, no User-Agent or X-Mailer, and the two parts.
func (s *Sender) compose(p payload, date time.Time) (*gomail.Msg, error) {
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := m.FromFormat(s.cfg.FromName, s.cfg.FromAddress); err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	// Validated at Enqueue; checked again since the payload came from Redis.
	if (Message{To: p.To, Subject: p.Subject, Text: p.Text, HTML: p.HTML}).Validate() != nil {
		return nil, errors.New("payload is not a valid mail")
	}
	if err := m.To(p.To); err != nil {
		return nil, errors.New("recipient refused by go-mail")
	}
	m.Subject(p.Subject)
	m.SetMessageIDWithValue(p.MessageID)
	m.SetDateWithValue(date)
	m.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated") // RFC 3834
	m.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	m.SetBodyString(gomail.TypeTextPlain, p.Text)
	if p.HTML != "" {
		m.AddAlternativeString(gomail.TypeTextHTML, p.HTML)
	}
	return m, nil
}

// failure kinds
const (
	temporary   = iota // the relay answered 4xx, or the connection broke mid-transaction
	permanent          // the relay answered 5xx to this mail, or go-mail cannot send it
	unreachable        // no transaction: dial, TLS, greeting or AUTH failed
)

// classify sorts a send error and describes it for logs. It never uses
// the text of an SMTP reply, which may quote the address.
func classify(err error) (int, string) {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return unreachable, err.Error()
	}
	why := se.Reason.String()
	if code := se.ErrorCode(); code != 0 {
		why = fmt.Sprintf("%s: SMTP %d %s", why, code, se.EnhancedStatusCode())
	}
	switch {
	case se.ErrorCode() >= 500:
		return permanent, why
	case se.ErrorCode() >= 400:
		return temporary, why
	case se.Reason == gomail.ErrGetSender, se.Reason == gomail.ErrGetRcpts, se.Reason == gomail.ErrNoUnencoded:
		return permanent, why
	default:
		return temporary, why
	}
}

// Values of an entry's marker key (see doc.go).
const (
	markerSent = "sent"
	markerBusy = "busy" // not stored: acquire's answer when another attempt holds the key
	leasePfx   = "lease:"
)

// releaseScript deletes a lease if it is still ours.
const releaseScript = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`

// acquire takes the marker of entry for one attempt. It returns the lease
// token, or the state that stops the attempt: markerSent or markerBusy.
func (s *Sender) acquire(ctx context.Context, id string) (token, state string, err error) {
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	token = leasePfx + s.cfg.Consumer + ":" + base64.RawURLEncoding.EncodeToString(b)
	key := markerKey(s.cfg.Prefix, id)
	ok, err := s.cfg.Client.SetNX(ctx, key, token, s.lease).Result()
	if err != nil {
		return "", "", fmt.Errorf("mail: lease: %w", err)
	}
	if ok {
		return token, "", nil
	}
	v, err := s.cfg.Client.Get(ctx, key).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return "", markerBusy, nil // just released: try again later
	case err != nil:
		return "", "", fmt.Errorf("mail: lease: %w", err)
	case v == markerSent:
		return "", markerSent, nil
	}
	return "", markerBusy, nil
}

// markSent records that the relay accepted the entry, then removes it.
// The marker is written first, on its own: if what follows fails, the
// next attempt finds it and does not send again.
func (s *Sender) markSent(ctx context.Context, id string) error {
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeeping)
	defer cancel()
	if err := s.cfg.Client.Set(bg, markerKey(s.cfg.Prefix, id), markerSent, s.cfg.GiveUpAfter+10*time.Minute).Err(); err != nil {
		return fmt.Errorf("mail: mark sent: %w", err)
	}
	return s.finish(ctx, id)
}

// finish acknowledges and deletes a settled entry, in one transaction.
func (s *Sender) finish(ctx context.Context, id string) error {
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeeping)
	defer cancel()
	stream := outboxKey(s.cfg.Prefix)
	_, err := s.cfg.Client.TxPipelined(bg, func(p redis.Pipeliner) error {
		p.XAck(bg, stream, group, id)
		p.XDel(bg, stream, id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("mail: acknowledge: %w", err)
	}
	return nil
}

// deadLetter moves an entry, still sealed, to the dead letters with the
// reason, and logs it (never the body or the address).
func (s *Sender) deadLetter(ctx context.Context, m redis.XMessage, e entry, attempts int64, reason string) error {
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeeping)
	defer cancel()
	stream := outboxKey(s.cfg.Prefix)
	values := []any{
		"entry", m.ID, "attempts", attempts, "reason", reason,
		"failed_at", strconv.FormatInt(s.cfg.Now().UnixMilli(), 10),
	}
	for _, f := range []string{fieldVersion, fieldAt, fieldPayload} {
		if v, ok := m.Values[f]; ok {
			values = append(values, f, v)
		}
	}
	_, err := s.cfg.Client.TxPipelined(bg, func(p redis.Pipeliner) error {
		p.XAdd(bg, &redis.XAddArgs{Stream: deadKey(s.cfg.Prefix), MaxLen: s.cfg.DeadMaxLen, Approx: true, Values: values})
		p.XAck(bg, stream, group, m.ID)
		p.XDel(bg, stream, m.ID)
		p.Del(bg, markerKey(s.cfg.Prefix, m.ID))
		return nil
	})
	if err != nil {
		return fmt.Errorf("mail: dead letter: %w", err)
	}
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.MailGivenUp()
	}
	s.log.Error("mail: given up, moved to the dead letters", "entry", m.ID, "attempts", attempts, "enqueued", e.enqueued, "reason", reason)
	return nil
}
