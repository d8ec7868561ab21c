package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"
)

// updateAttempts bounds optimistic retries before ErrConflict.
const updateAttempts = 16

// outsideTx, returned by an update's fn, aborts the attempt without writing:
// run is called first (a step the update depends on) and the update is
// tried again.
type outsideTx struct{ run func(context.Context) error }

func (*outsideTx) Error() string { return "store: update needs a step outside the transaction" }

// compareAndSet replaces KEYS[1] by ARGV[2] (TTL ARGV[3] ms) only if it
// still holds ARGV[1]: one command where WATCH/GET/MULTI/SET/EXEC took five
// and a connection of its own.
var compareAndSet = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`)

// compareAndDelete deletes KEYS[1] only if it still holds ARGV[1].
var compareAndDelete = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`)

// updateJSON applies fn to the JSON record under key optimistically: read,
// change, and write only if nobody changed the key in between, retrying
// otherwise. fn may run several times and must only mutate the record. Its
// error is returned unchanged and nothing is written. expiry and id read the
// record's logical expiry and identity; fn may not change the id. loaded,
// when not nil, fills what the stored form lacks (the identity) before fn.
func updateJSON[T any](ctx context.Context, s *Store, key, id string, expiry func(*T) time.Time, idOf func(*T) string, loaded func(*T) error, fn func(*T) error) error {
	_, err := updateKnownJSON(ctx, s, key, id, "", expiry, idOf, loaded, fn)
	return err
}

// updateKnownJSON is updateJSON starting from known, the record as the
// caller last read or wrote it ("" to read it first): when nobody changed
// it since, the update is one command. It returns the record as written.
func updateKnownJSON[T any](ctx context.Context, s *Store, key, id, known string, expiry func(*T) time.Time, idOf func(*T) string, loaded func(*T) error, fn func(*T) error) (string, error) {
	for attempt := range updateAttempts {
		old := known
		known = ""
		if old == "" {
			var err error
			old, err = s.c.Get(ctx, key).Result()
			if errors.Is(err, redis.Nil) {
				return "", ErrNotFound
			}
			if err != nil {
				return "", fmt.Errorf("store: get: %w", err)
			}
		}
		v := new(T)
		if err := json.Unmarshal([]byte(old), v); err != nil {
			return "", fmt.Errorf("store: decode: %w", err)
		}
		if loaded != nil {
			if err := loaded(v); err != nil {
				return "", err
			}
		}
		if s.expired(expiry(v)) {
			return "", ErrNotFound
		}
		err := fn(v)
		var o *outsideTx
		if errors.As(err, &o) {
			if err := o.run(ctx); err != nil {
				return "", err
			}
			continue
		}
		if err != nil {
			return "", err
		}
		if idOf(v) != id {
			return "", errors.New("store: an update changed the record's id")
		}
		b, err := json.Marshal(v)
		if err != nil {
			return "", fmt.Errorf("store: encode %s: %w", key, err)
		}
		won, err := compareAndSet.Run(ctx, s.c, []string{key}, old, b, s.ttl(expiry(v)).Milliseconds()).Int()
		if err != nil {
			return "", fmt.Errorf("store: set: %w", err)
		}
		if won == 1 {
			return string(b), nil
		}
		// Lost the race: back off a little, with jitter, so contenders spread out.
		wait := time.Duration(rand.Int64N(int64(attempt+1) * int64(time.Millisecond)))
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("store: update: %w", ctx.Err())
		case <-time.After(wait):
		}
	}
	return "", ErrConflict
}
