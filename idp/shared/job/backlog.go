package job

import (
	"context"
	"fmt"
	"time"
)

// Backlog is the queue's state for monitoring.
type Backlog struct {
	Waiting, Running int64
	// OldestDue is how long the job due first has been due (zero when
	// none is due): how far behind the workers are.
	OldestDue time.Duration
}

// Backlog reads the queue's state in one round trip of three cheap
// commands (two ZCARD, one ZRANGE of one element).
func (q *Queue) Backlog(ctx context.Context) (Backlog, error) {
	p := q.c.Pipeline()
	w := p.ZCard(ctx, q.readyKey())
	r := p.ZCard(ctx, q.leasesKey())
	first := p.ZRangeWithScores(ctx, q.readyKey(), 0, 0)
	if _, err := p.Exec(ctx); err != nil {
		return Backlog{}, fmt.Errorf("job: backlog: %w", err)
	}
	b := Backlog{Waiting: w.Val(), Running: r.Val()}
	if z := first.Val(); len(z) == 1 {
		due := time.UnixMilli(int64(z[0].Score))
		b.OldestDue = max(q.now().Sub(due), 0)
	}
	return b, nil
}
