package loop

import (
	"context"
	"log/slog"
	"time"
)

// The pauses after failed steps: the first, and the most.
const (
	firstPause = 100 * time.Millisecond
	maxPause   = 5 * time.Second
)

// Run calls step until ctx is done, then returns. A step returns an error
// when what it depends on (Redis) failed: Run logs it at Warn with msg,
// "err" and "retry_in", and pauses before the next step; the pause starts
// at 100ms and doubles after each further failure, at most 5s, and a
// successful step resets it. An error returned once ctx is done is not
// logged: it is the cancellation.
func Run(ctx context.Context, log *slog.Logger, msg string, step func(ctx context.Context) error) {
	var b backoff
	for ctx.Err() == nil {
		err := step(ctx)
		if err == nil {
			b.reset()
			continue
		}
		if ctx.Err() != nil {
			return
		}
		pause := b.next()
		log.Warn(msg, "err", err, Duration("retry_in", pause))
		Sleep(ctx, pause)
	}
}

// backoff is the pause of Run after consecutive failures.
type backoff struct{ pause time.Duration }

func (b *backoff) next() time.Duration {
	b.pause = min(max(2*b.pause, firstPause), maxPause)
	return b.pause
}

func (b *backoff) reset() { b.pause = 0 }

// Sleep waits d, or until ctx is done.
func Sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Duration is a log attribute holding d as text ("1.5s"): JSON handlers
// would write a time.Duration as nanoseconds, which no one reads.
func Duration(key string, d time.Duration) slog.Attr {
	return slog.String(key, d.String())
}
