package mail

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The dead letters as the admin commands see them: mails given up, still
// sealed. Nothing here returns or logs a recipient, a subject or a body.

// ErrNoDeadLetter: no dead letter has this id (never, or dropped or
// resent already).
var ErrNoDeadLetter = errors.New("mail: no such dead letter")

// DeadLetter is one mail given up, without its content.
type DeadLetter struct {
	ID       string // its id in the dead letters
	Entry    string // its id in the outbox, as logged when it was given up
	Attempts int64
	Reason   string // why it was given up (no address, no SMTP reply text)
	Enqueued time.Time
	FailedAt time.Time
}

func parseDeadLetter(m redis.XMessage) DeadLetter {
	s := func(k string) string { v, _ := m.Values[k].(string); return v }
	at := func(k string) time.Time {
		n, err := strconv.ParseInt(s(k), 10, 64)
		if err != nil {
			return time.Time{}
		}
		return time.UnixMilli(n)
	}
	d := DeadLetter{ID: m.ID, Entry: s("entry"), Reason: s("reason"), Enqueued: at(fieldAt), FailedAt: at("failed_at")}
	d.Attempts, _ = strconv.ParseInt(s("attempts"), 10, 64)
	return d
}

// DeadLetters lists the mails given up, newest first, at most limit (0:
// all).
func (o *Outbox) DeadLetters(ctx context.Context, limit int64) ([]DeadLetter, error) {
	var msgs []redis.XMessage
	var err error
	if limit > 0 {
		msgs, err = o.cfg.Client.XRevRangeN(ctx, deadKey(o.cfg.Prefix), "+", "-", limit).Result()
	} else {
		msgs, err = o.cfg.Client.XRevRange(ctx, deadKey(o.cfg.Prefix), "+", "-").Result()
	}
	if err != nil {
		return nil, fmt.Errorf("mail: read dead letters: %w", err)
	}
	out := make([]DeadLetter, len(msgs))
	for i, m := range msgs {
		out[i] = parseDeadLetter(m)
	}
	return out, nil
}

// DeadLetter returns one dead letter, or ErrNoDeadLetter.
func (o *Outbox) DeadLetter(ctx context.Context, id string) (DeadLetter, error) {
	m, err := o.deadMessage(ctx, id)
	if err != nil {
		return DeadLetter{}, err
	}
	return parseDeadLetter(m), nil
}

func (o *Outbox) deadMessage(ctx context.Context, id string) (redis.XMessage, error) {
	msgs, err := o.cfg.Client.XRange(ctx, deadKey(o.cfg.Prefix), id, id).Result()
	if err != nil {
		// A malformed id is a Redis error too: say it as "not found".
		if errors.Is(err, redis.Nil) || isBadID(err) {
			return redis.XMessage{}, fmt.Errorf("%w: %s", ErrNoDeadLetter, id)
		}
		return redis.XMessage{}, fmt.Errorf("mail: read dead letter: %w", err)
	}
	if len(msgs) == 0 {
		return redis.XMessage{}, fmt.Errorf("%w: %s", ErrNoDeadLetter, id)
	}
	return msgs[0], nil
}

func isBadID(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && len(re.Error()) > 3 && re.Error()[:3] == "ERR"
}

// Resend queues a dead letter again as a new outbox entry, dated now (so
// that it gets a whole GiveUpAfter again), and removes it from the dead
// letters, in one MULTI. The payload is opened and sealed again under the
// outbox key only because the enqueue time is bound to it; it is never
// logged nor returned, and its Message-ID is kept. It returns the new
// outbox entry's id.
func (o *Outbox) Resend(ctx context.Context, id string) (string, error) {
	var entry string
	// WATCH: two operators resending the same letter send it once.
	err := o.cfg.Client.Watch(ctx, func(tx *redis.Tx) error {
		m, err := o.deadMessage(ctx, id)
		if err != nil {
			return err
		}
		at, _ := m.Values[fieldAt].(string)
		p, _ := m.Values[fieldPayload].(string)
		if v, _ := m.Values[fieldVersion].(string); v != payloadVersion || p == "" {
			return fmt.Errorf("mail: dead letter %s: malformed, cannot be resent", id)
		}
		plain, err := o.seal.open([]byte(p), at)
		if err != nil {
			return fmt.Errorf("mail: dead letter %s: payload %w (was the mail key changed?)", id, err)
		}
		now := strconv.FormatInt(o.cfg.Now().UnixMilli(), 10)
		sealed := o.seal.seal(plain, now)
		clear(plain)
		var add *redis.StringCmd
		_, err = tx.TxPipelined(ctx, func(pp redis.Pipeliner) error {
			add = pp.XAdd(ctx, &redis.XAddArgs{
				Stream: outboxKey(o.cfg.Prefix), MaxLen: o.cfg.MaxLen, Approx: true,
				Values: []any{fieldVersion, payloadVersion, fieldAt, now, fieldPayload, sealed},
			})
			pp.XDel(ctx, deadKey(o.cfg.Prefix), id)
			return nil
		})
		if err != nil {
			return err
		}
		entry = add.Val()
		return nil
	}, deadKey(o.cfg.Prefix))
	switch {
	case errors.Is(err, redis.TxFailedErr):
		return "", fmt.Errorf("mail: resend %s: the dead letters changed meanwhile; list them again", id)
	case err != nil && !errors.Is(err, ErrNoDeadLetter) && !strings.HasPrefix(err.Error(), "mail:"):
		return "", fmt.Errorf("mail: resend: %w", err)
	}
	return entry, err
}

// DropDeadLetter deletes a dead letter for good, or answers
// ErrNoDeadLetter.
func (o *Outbox) DropDeadLetter(ctx context.Context, id string) error {
	if _, err := o.deadMessage(ctx, id); err != nil {
		return err
	}
	n, err := o.cfg.Client.XDel(ctx, deadKey(o.cfg.Prefix), id).Result()
	if err != nil {
		return fmt.Errorf("mail: drop dead letter: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %s", ErrNoDeadLetter, id)
	}
	return nil
}
