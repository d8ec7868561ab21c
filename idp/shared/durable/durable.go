// Package durable makes a Redis write wait until a replica holds it, for
// the few writes that must survive a Sentinel failover (a queued password
// change, the signing key). Redis replicates asynchronously: a primary
// that fails after answering OK may take the write with it, unless a
// replica acknowledged it first (WAIT).
package durable

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotReplicated: the write was applied on the primary, but no replica
// acknowledged it within the timeout, although the primary has replicas.
// It may still be lost by a failover, or may not: the caller must not
// promise it.
var ErrNotReplicated = errors.New("durable: no replica acknowledged the write in time")

// Write queues write's commands in a pipeline, on the connection to the
// primary that owns key (on a Cluster, the master of key's slot), followed
// by WAIT 1 timeout: WAIT counts the replicas that hold every write made
// so far on its own connection, hence one pipeline. The caller reads its
// commands' results once Write returns nil or ErrNotReplicated.
//
// A primary without any connected replica (a lone server, or a new
// primary whose replicas have not reconnected yet) cannot do better: Write
// asks INFO replication first and then does not WAIT. Nor does it with a
// server that refuses INFO replication or does not report
// connected_slaves in it: that server cannot say whether it has replicas.
func Write(ctx context.Context, c redis.UniversalClient, key string, timeout time.Duration, write func(p redis.Pipeliner)) error {
	var node redis.Cmdable = c
	if cc, ok := c.(*redis.ClusterClient); ok {
		m, err := cc.MasterForKey(ctx, key)
		if err != nil {
			return fmt.Errorf("durable: find the master of the key: %w", err)
		}
		node = m
	}
	// WAIT on a primary without replicas would block for the whole timeout.
	replicas := -1
	if info, err := node.Info(ctx, "replication").Result(); err == nil {
		replicas = connectedReplicas(info)
	}
	p := node.Pipeline()
	write(p)
	var wait *redis.Cmd
	if replicas > 0 {
		wait = p.Do(ctx, "WAIT", 1, max(timeout.Milliseconds(), 1))
	}
	if _, err := p.Exec(ctx); err != nil {
		return fmt.Errorf("durable: %w", err)
	}
	if wait == nil {
		return nil
	}
	if n, err := wait.Int64(); err != nil || n < 1 {
		return ErrNotReplicated
	}
	return nil
}

// connectedReplicas reads connected_slaves from INFO replication; -1 when
// it is missing.
func connectedReplicas(info string) int {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_slaves:"); ok {
			if n, err := strconv.Atoi(v); err == nil {
				return n
			}
		}
	}
	return -1
}
