package mail

import (
	"context"
	"fmt"
)

// Depth returns how many mails wait in the outbox (not yet sent, retries
// included) and how many lie in the dead letters: two XLEN, cheap enough
// for every metrics scrape.
func (o *Outbox) Depth(ctx context.Context) (waiting, dead int64, err error) {
	p := o.cfg.Client.Pipeline()
	w := p.XLen(ctx, outboxKey(o.cfg.Prefix))
	d := p.XLen(ctx, deadKey(o.cfg.Prefix))
	if _, err := p.Exec(ctx); err != nil {
		return 0, 0, fmt.Errorf("mail: depth: %w", err)
	}
	return w.Val(), d.Val(), nil
}
