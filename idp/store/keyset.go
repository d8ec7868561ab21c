package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/durable"
)

// SigningKeySet is the provider's set of signing keys (next, current,
// retired) as one opaque record, sealed by the provider, with the version
// that optimistic writes compare.
type SigningKeySet struct {
	// Version is 0 when no set is stored yet.
	Version int64
	Data    []byte
}

// swapKeySet replaces the set only if its version is still the one the
// caller read, so that replicas writing at once converge on one set.
var swapKeySet = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'v')
if (v or '0') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3])
return 1
`)

// LoadSigningKeySet returns the stored key set; Version 0 and no Data when
// none is stored.
func (s *Store) LoadSigningKeySet(ctx context.Context) (SigningKeySet, error) {
	vals, err := s.c.HMGet(ctx, s.keySetKey(), "v", "d").Result()
	if err != nil {
		return SigningKeySet{}, fmt.Errorf("store: load signing key set: %w", err)
	}
	vs, _ := vals[0].(string)
	ds, _ := vals[1].(string)
	if vs == "" {
		return SigningKeySet{}, nil
	}
	v, err := strconv.ParseInt(vs, 10, 64)
	if err != nil || v <= 0 || ds == "" {
		return SigningKeySet{}, errors.New("store: malformed signing key set")
	}
	return SigningKeySet{Version: v, Data: []byte(ds)}, nil
}

// SaveSigningKeySet stores data as the key set's version+1 if the stored
// version is still version (0: none stored), and fails with ErrConflict
// otherwise: the caller reads again and decides again. It returns once a
// Redis replica holds the set, when the primary has replicas (see
// SigningKey).
func (s *Store) SaveSigningKeySet(ctx context.Context, version int64, data []byte) error {
	if len(data) == 0 {
		return errors.New("store: empty signing key set")
	}
	key := s.keySetKey()
	var res *redis.Cmd
	err := durable.Write(ctx, s.c, key, s.replicaWait, func(p redis.Pipeliner) {
		res = swapKeySet.Eval(ctx, p, []string{key}, strconv.FormatInt(version, 10), strconv.FormatInt(version+1, 10), data)
	})
	if err != nil {
		return fmt.Errorf("store: save signing key set: %w", err)
	}
	if n, _ := res.Int64(); n != 1 {
		return ErrConflict
	}
	return nil
}

// KeyRotationLease asks for the short lease that lets one replica at a
// time rotate the keys (SET NX PX); true if holder now holds it, or
// already did.
func (s *Store) KeyRotationLease(ctx context.Context, holder string, ttl time.Duration) (bool, error) {
	key := s.keySetKey() + ":lease"
	ok, err := s.c.SetNX(ctx, key, holder, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("store: key rotation lease: %w", err)
	}
	if ok {
		return true, nil
	}
	h, err := s.c.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil // expired in between: the next check takes it
	}
	if err != nil {
		return false, fmt.Errorf("store: key rotation lease: %w", err)
	}
	return h == holder, nil
}

var releaseLease = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// ReleaseKeyRotationLease gives the lease up if holder still holds it.
func (s *Store) ReleaseKeyRotationLease(ctx context.Context, holder string) error {
	if err := releaseLease.Run(ctx, s.c, []string{s.keySetKey() + ":lease"}, holder).Err(); err != nil {
		return fmt.Errorf("store: release key rotation lease: %w", err)
	}
	return nil
}

// LegacySigningKey returns the single signing key stored under name by
// earlier versions (see SigningKey), or ErrNotFound: it is migrated into
// the key set as its current key.
func (s *Store) LegacySigningKey(ctx context.Context, name string) ([]byte, error) {
	b, err := s.c.Get(ctx, s.signingKeyKey(name)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: load signing key: %w", err)
	}
	return b, nil
}

func (s *Store) keySetKey() string { return s.prefix + "sigkeys" }
