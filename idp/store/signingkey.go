package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// SigningKey returns the bytes stored under name, shared by every replica.
// When absent, generate is called and its result stored with SET NX and no
// TTL (keys must outlive any TTL); if another replica stored one first, the
// winner's bytes are returned. A stored key is never overwritten. generate may
// run on several replicas at once; only one result wins.
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
	won, err := s.c.SetNX(ctx, key, b, 0).Result()
	if err != nil {
		return nil, fmt.Errorf("store: save signing key: %w", err)
	}
	if won {
		return b, nil
	}
	b, err = s.c.Get(ctx, key).Bytes()
	if err != nil {
		return nil, fmt.Errorf("store: load winning signing key: %w", err)
	}
	return b, nil
}
