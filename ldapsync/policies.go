package ldapsync

import (
	"context"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
)

// publishPolicies reads the targets' password policies and publishes
// them, at once and then every PolicyInterval until ctx ends; the channel
// is closed when it stopped. Each publication lives three intervals, so a
// missed round or two hides nothing.
func (w *Worker) publishPolicies(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	var readers []int
	for i, t := range w.Targets {
		_, ok := t.Writer.(PolicyReader)
		switch {
		case t.PolicyDN == "":
			w.Log.Info("ldapsync: no policy_dn: the web tier cannot check new passwords against this target in advance", "target", t.Name)
		case !ok:
			w.Log.Warn("ldapsync: this target's writer cannot read a password policy; not published", "target", t.Name)
		default:
			readers = append(readers, i)
		}
	}
	if len(readers) == 0 {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		tick := time.NewTicker(w.PolicyInterval)
		defer tick.Stop()
		for {
			w.publishOnce(ctx, readers)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return done
}

// publishOnce reads the policies of the targets at indexes readers and
// publishes those it could read, in one call. A target whose read fails
// is left out this round: what was published for it before stays until
// it expires.
func (w *Worker) publishOnce(ctx context.Context, readers []int) {
	var ps []job.TargetPolicy
	for _, i := range readers {
		t := w.Targets[i]
		p, err := t.Writer.(PolicyReader).Policy(ctx, t.PolicyDN)
		if err != nil {
			if ctx.Err() == nil {
				w.Log.Warn("ldapsync: password policy not read; not published this round", "target", t.Name, "err", err)
			}
			continue
		}
		tp := job.TargetPolicy{
			Name: t.Name, Label: t.Label, MinLength: p.MinLength, MaxLength: p.MaxLength,
			CheckQuality: p.CheckQuality, ReadAt: w.Clock(),
		}
		if p.CheckQuality == 0 {
			// ppolicy checks no length without quality checking.
			tp.MinLength, tp.MaxLength = 0, 0
		}
		ps = append(ps, tp)
	}
	if len(ps) == 0 {
		return
	}
	if err := w.Queue.PublishPolicies(ctx, ps, 3*w.PolicyInterval); err != nil && ctx.Err() == nil {
		w.Log.Warn("ldapsync: password policies not published", "err", err)
	}
}
