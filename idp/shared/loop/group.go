package loop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Next is what a Handler tells Group after one entry.
type Next int

const (
	// Continue goes on with the next entry.
	Continue Next = iota
	// Wait leaves the rest of what was read or claimed pending until the
	// next cycle: the handler saw that they would fail alike (a relay down).
	Wait
)

// Handler handles one entry, delivered for the deliveries-th time (1 when
// read new). It acknowledges the entry itself, or leaves it pending to be
// claimed again. It returns an error only when Redis failed; Group then
// stops the cycle, and Run pauses.
type Handler func(ctx context.Context, m redis.XMessage, deliveries int64) (Next, error)

// Group reads a Redis stream as one consumer of a consumer group.
// Pending entries are listed (XPENDING with IDLE) and claimed (XCLAIM with
// the same minimum idle time, so two consumers never both win) rather than
// auto-claimed: XAUTOCLAIM takes one idle threshold for all entries and
// resets the idle time of every entry it returns, so it cannot give each
// entry its own delay.
type Group struct {
	Client   redis.UniversalClient
	Stream   string
	Group    string
	Consumer string
	// Block is how long one read waits for new entries; Run notices that
	// its context is done within Block.
	Block time.Duration
	// ClaimAfter is how long an entry delivered n times stays pending
	// before this consumer claims it again. It must not decrease with n.
	ClaimAfter func(n int64) time.Duration
	Handle     Handler

	groupReady bool
}

// Entries read or listed per call.
const (
	readCount   = 10
	pendingPage = 100
	maxPages    = 10 // pending pages looked at per cycle
)

// Run runs cycles until ctx is done (then it returns within Block),
// through loop.Run: a Redis failure is logged with msg and retried.
func (g *Group) Run(ctx context.Context, log *slog.Logger, msg string) {
	Run(ctx, log, msg, g.cycle)
}

// cycle creates the group if needed, claims and handles what is due, then
// waits up to Block for new entries and handles them. It returns Redis
// errors only.
func (g *Group) cycle(ctx context.Context) error {
	err := g.runCycle(ctx)
	if IsRedisError(err, "NOGROUP") {
		g.groupReady = false // the stream was deleted (Redis flushed, or restarted empty)
	}
	return err
}

func (g *Group) runCycle(ctx context.Context) error {
	if !g.groupReady {
		// From the start of the stream: what was added before any
		// consumer ran is handled too.
		err := g.Client.XGroupCreateMkStream(ctx, g.Stream, g.Group, "0").Err()
		if err != nil && !IsRedisError(err, "BUSYGROUP") {
			return fmt.Errorf("create consumer group of %s: %w", g.Stream, err)
		}
		g.groupReady = true
	}
	if err := g.claimDue(ctx); err != nil {
		return err
	}
	streams, err := g.Client.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: g.Group, Consumer: g.Consumer,
		Streams: []string{g.Stream, ">"}, Count: readCount, Block: g.Block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", g.Stream, err)
	}
	for _, st := range streams {
		for _, m := range st.Messages {
			if ctx.Err() != nil {
				return nil // left pending: claimed again later
			}
			next, err := g.Handle(ctx, m, 1)
			if err != nil {
				return err
			}
			if next == Wait {
				return nil
			}
		}
	}
	return nil
}

// claimDue claims and handles the pending entries idle for at least
// ClaimAfter of their delivery count: the ones whose handling failed, and
// the ones a stopped or crashed consumer held.
func (g *Group) claimDue(ctx context.Context) error {
	start := "-"
	for range maxPages {
		pending, err := g.Client.XPendingExt(ctx, &redis.XPendingExtArgs{
			Stream: g.Stream, Group: g.Group,
			Idle: g.ClaimAfter(1), Start: start, End: "+", Count: pendingPage,
		}).Result()
		if err != nil {
			return fmt.Errorf("list pending entries of %s: %w", g.Stream, err)
		}
		for _, p := range pending {
			if ctx.Err() != nil {
				return nil
			}
			wait := g.ClaimAfter(p.RetryCount)
			if p.Idle < wait {
				continue
			}
			// XCLAIM with the same minimum idle time: if another consumer
			// claimed it since XPENDING, nothing comes back.
			claimed, err := g.Client.XClaim(ctx, &redis.XClaimArgs{
				Stream: g.Stream, Group: g.Group, Consumer: g.Consumer,
				MinIdle: wait, Messages: []string{p.ID},
			}).Result()
			if err != nil {
				return fmt.Errorf("claim a pending entry of %s: %w", g.Stream, err)
			}
			for _, m := range claimed {
				if m.ID != p.ID {
					continue // deleted meanwhile (trimmed)
				}
				next, err := g.Handle(ctx, m, p.RetryCount+1)
				if err != nil {
					return err
				}
				if next == Wait {
					return nil
				}
			}
		}
		if len(pending) < pendingPage {
			return nil
		}
		start = "(" + pending[len(pending)-1].ID
	}
	return nil
}

// IsRedisError reports whether err wraps a reply of Redis starting with
// code, such as NOGROUP.
func IsRedisError(err error, code string) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), code+" ")
}
