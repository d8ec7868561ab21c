package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/durable"
)

// SigningKey returns the bytes stored under name, shared by every replica.
// When absent, generate is called and its result stored with SET NX and no
// TTL (keys must outlive any TTL); if another replica stored one first, the
// winner's bytes are returned. A stored key is never overwritten. generate may
// run on several replicas at once; only one result wins.
//
// A new key is returned only once a Redis replica holds it, when the
// primary has replicas, so that a failover cannot replace a key already
// used to sign; if none does within ReplicaWait the call fails (the key
// stays on the primary: the next call reads it).
func (s *Store) SigningKey(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error) {
	if name == "" {
		return nil, errors.New("store: signing key without name")
	}
	key := s.signingKeyKey(name)
	b, err := s.c.Get(ctx, key).Bytes()
	if err == nil {
		return b, nil
	}
	if !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("store: load signing key: %w", err)
	}
	b, err = generate()
	if err != nil {
		return nil, fmt.Errorf("store: generate signing key: %w", err)
	}
	if len(b) == 0 {
		return nil, errors.New("store: generated signing key is empty")
	}
	var set *redis.BoolCmd
	err = durable.Write(ctx, s.c, key, s.replicaWait, func(p redis.Pipeliner) { set = p.SetNX(ctx, key, b, 0) })
	if err != nil {
		return nil, fmt.Errorf("store: save signing key: %w", err)
	}
	if set.Val() {
		return b, nil
	}
	b, err = s.c.Get(ctx, key).Bytes()
	if err != nil {
		return nil, fmt.Errorf("store: load winning signing key: %w", err)
	}
	return b, nil
}
