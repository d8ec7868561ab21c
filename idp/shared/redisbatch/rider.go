package redisbatch

import (
	"context"

	"github.com/redis/go-redis/v9"
)

type riderKey struct{}

// WithRider returns ctx carrying queue: a store read that takes riders
// (store.AuthRequestByRef, the first read of most browser requests)
// queues them in its own round trip, so that a read the request will need
// later costs no round trip of its own. queue is called at most once per
// such read, and must only read: the store's answer does not depend on it.
func WithRider(ctx context.Context, queue func(ctx context.Context, p redis.Pipeliner)) context.Context {
	return context.WithValue(ctx, riderKey{}, queue)
}

// Rider is what WithRider put in ctx; nil when nothing.
func Rider(ctx context.Context) func(ctx context.Context, p redis.Pipeliner) {
	q, _ := ctx.Value(riderKey{}).(func(context.Context, redis.Pipeliner))
	return q
}
