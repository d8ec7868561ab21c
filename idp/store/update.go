package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"
)

// updateAttempts bounds optimistic retries before ErrConflict.
const updateAttempts = 16

// outsideTx, returned by an update's fn, aborts the attempt without writing:
// run is called outside the transaction (no second connection is taken while
// WATCH holds one) and the update is tried again.
type outsideTx struct{ run func(context.Context) error }

func (*outsideTx) Error() string { return "store: update needs a step outside the transaction" }

// updateJSON applies fn to the JSON record under key with WATCH/MULTI, retrying
// when another writer changed the key in between. fn may run several times and
// must only mutate the record. Its error is returned unchanged and nothing is written.
// expiry and id read the record's logical expiry and identity; fn may not change the id.
// loaded, when not nil, fills what the stored form lacks (the identity) before fn.
func updateJSON[T any](ctx context.Context, s *Store, key, id string, expiry func(*T) time.Time, idOf func(*T) string, loaded func(*T) error, fn func(*T) error) error {
	for attempt := range updateAttempts {
		err := s.c.Watch(ctx, func(tx *redis.Tx) error {
			v := new(T)
			if err := getJSON(ctx, tx, key, v); err != nil {
				return err
			}
			if loaded != nil {
				if err := loaded(v); err != nil {
					return err
				}
			}
			if s.expired(expiry(v)) {
				return ErrNotFound
			}
			if err := fn(v); err != nil {
				return err
			}
			if idOf(v) != id {
				return errors.New("store: an update changed the record's id")
			}
			_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				return s.putJSON(ctx, p, key, v, expiry(v))
			})
			return err
		}, key)
		var o *outsideTx
		if errors.As(err, &o) {
			if err := o.run(ctx); err != nil {
				return err
			}
			continue
		}
		if !errors.Is(err, redis.TxFailedErr) {
			return err
		}
		// Lost the race: back off a little, with jitter, so contenders spread out.
		wait := time.Duration(rand.Int64N(int64(attempt+1) * int64(time.Millisecond)))
		select {
		case <-ctx.Done():
			return fmt.Errorf("store: update: %w", ctx.Err())
		case <-time.After(wait):
		}
	}
	return ErrConflict
}
