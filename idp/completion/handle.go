package completion

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/audit"
	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/loop"
)

// Values of a job's marker key.
const (
	markerDone = "done"
	markerBusy = "busy" // not stored: acquire's answer when another attempt holds the key
	leasePfx   = "lease:"
)

// releaseScript deletes a lease if it is still ours.
const releaseScript = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`

// bookkeeping is how long the Redis writes after an attempt may take, even
// when Run's context is done: what was done must be recorded so.
const bookkeeping = 5 * time.Second

func (c *Consumer) markerKey(jobID string) string {
	return c.cfg.Prefix + "completion:{" + jobID + "}"
}

// handle handles one delivered entry and acknowledges it, or leaves it
// pending (to be claimed again after ClaimAfter) when a step failed. It
// returns an error only when Redis failed.
func (c *Consumer) handle(ctx context.Context, m redis.XMessage) error {
	log := c.cfg.Log
	e, err := job.ParseEvent(m)
	if err != nil {
		log.Error("completion: malformed event dropped", "entry", m.ID, "err", err)
		return c.ack(ctx, m.ID)
	}
	if age := c.cfg.Now().Sub(e.At); age > c.cfg.MaxAge {
		log.Warn("completion: event too old, dropped", "entry", m.ID, "job", e.JobID, "sub", e.Subject, "state", e.State, "age", age.Round(time.Second))
		return c.ack(ctx, m.ID)
	}
	token, state, err := c.acquire(ctx, e.JobID)
	switch {
	case err != nil:
		return err
	case state == markerDone:
		log.Info("completion: event handled already, acknowledged", "entry", m.ID, "job", e.JobID)
		return c.ack(ctx, m.ID)
	case state == markerBusy:
		return nil // another attempt runs: left pending, looked at again later
	}
	if err := c.apply(ctx, e); err != nil {
		c.releaseLease(ctx, e.JobID, token)
		log.Warn("completion: event not handled, will retry", "entry", m.ID, "job", e.JobID, "sub", e.Subject, loop.Duration("retry_in", c.cfg.ClaimAfter), "err", err)
		return nil
	}
	return c.finish(ctx, m.ID, e.JobID)
}

// apply does what a settled change calls for.
func (c *Consumer) apply(ctx context.Context, e job.Event) error {
	ev := audit.Event{Subject: e.Subject, Reason: string(e.Reason)}
	switch e.State {
	case job.Rejected:
		ev.Name = audit.ResetRefused
	case job.Failed:
		ev.Name = audit.ResetFailed
		if e.Reason == job.ReasonUnconfirmed {
			// Sent, and perhaps applied: the old password may no longer
			// be the person's, so whatever it opened ends as after a
			// written change. No notice: it may not have been changed.
			if err := c.revoke(ctx, e); err != nil {
				return err
			}
		}
	case job.Done:
		ev.Name = audit.ResetWritten
		if err := c.written(ctx, e); err != nil {
			return err
		}
	case job.Partial:
		// Written somewhere: the old password no longer opens everything,
		// so the same revocation and notice; IT must fix the rest.
		ev.Name = audit.ResetPartial
		for _, t := range e.Targets {
			if t.State != job.Done {
				ev.Targets = append(ev.Targets, t.Name)
			}
		}
		if err := c.written(ctx, e); err != nil {
			return err
		}
	}
	audit.Log(ctx, c.cfg.Log, ev)
	return nil
}

// written ends the person's sessions and tokens first (it needs Redis
// only), then queues the notice to the directory's address.
func (c *Consumer) written(ctx context.Context, e job.Event) error {
	log := c.cfg.Log
	if e.Subject == "" {
		log.Error("completion: written change without subject: nothing revoked, nobody told", "job", e.JobID)
		return nil
	}
	if err := c.revoke(ctx, e); err != nil {
		return err
	}
	u, found, err := c.cfg.People.FindBySubject(ctx, e.Subject)
	if err != nil {
		return fmt.Errorf("find the account: %w", err)
	}
	if c.cfg.Throttle != nil {
		who := u
		if !found {
			who = ldapauth.User{Subject: e.Subject}
		}
		if err := c.cfg.Throttle.ForgetPerson(ctx, who); err != nil {
			return fmt.Errorf("forget failed sign-ins: %w", err)
		}
		log.Info("completion: failed sign-ins forgotten", "job", e.JobID, "sub", e.Subject)
	}
	if !found || u.Email == "" {
		log.Error("completion: no address for the person: notice not sent", "job", e.JobID, "sub", e.Subject, "account_found", found)
		return nil
	}
	m, err := c.cfg.Compose(ctx, e.At)
	if err != nil {
		// A configuration problem: retrying would not help.
		log.Error("completion: notice not rendered, not sent", "job", e.JobID, "err", err)
		return nil
	}
	m.To = u.Email
	if err := c.cfg.Outbox.Enqueue(ctx, m); err != nil {
		return fmt.Errorf("queue the notice: %w", err)
	}
	log.Info("completion: notice queued", "job", e.JobID, "sub", e.Subject)
	return nil
}

// revoke ends the person's sessions and tokens but the one the change was
// made from, and tells their sites.
func (c *Consumer) revoke(ctx context.Context, e job.Event) error {
	if e.Subject == "" {
		c.cfg.Log.Error("completion: change without subject: nothing revoked", "job", e.JobID)
		return nil
	}
	keep, err := c.cfg.Sessions.SessionKeptFor(ctx, e.JobID)
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	// Queued first: the revocation deletes the record of the sites each
	// session served. If the revocation then fails, the event is retried
	// and the sites are told twice, which is harmless.
	if c.cfg.Backchannel != nil {
		if err := c.cfg.Backchannel.SessionsEnding(ctx, e.Subject, keep); err != nil {
			return fmt.Errorf("back-channel logout: %w", err)
		}
	}
	if err := c.cfg.Sessions.RevokeSubject(ctx, e.Subject, keep); err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	c.cfg.Log.Info("completion: sessions and tokens revoked", "job", e.JobID, "sub", e.Subject, "session_kept", keep != "")
	return nil
}

// acquire takes the marker of a job for one attempt. It returns the lease
// token, or the state that stops the attempt: markerDone or markerBusy.
func (c *Consumer) acquire(ctx context.Context, jobID string) (token, state string, err error) {
	token = newToken(c.cfg.Consumer)
	key := c.markerKey(jobID)
	ok, err := c.cfg.Client.SetNX(ctx, key, token, c.cfg.Lease).Result()
	if err != nil {
		return "", "", fmt.Errorf("completion: lease: %w", err)
	}
	if ok {
		return token, "", nil
	}
	v, err := c.cfg.Client.Get(ctx, key).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return "", markerBusy, nil // just released: try again later
	case err != nil:
		return "", "", fmt.Errorf("completion: lease: %w", err)
	case v == markerDone:
		return "", markerDone, nil
	}
	return "", markerBusy, nil
}

func (c *Consumer) releaseLease(ctx context.Context, jobID, token string) {
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeeping)
	defer cancel()
	err := c.release.Run(bg, c.cfg.Client, []string{c.markerKey(jobID)}, token).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		c.cfg.Log.Warn("completion: could not release an attempt early; it expires by itself", "job", jobID, "err", err)
	}
}

// finish records the job as handled, then acknowledges the entry. The
// marker is written first, on its own: if the acknowledgement fails, the
// next delivery finds it and does nothing.
func (c *Consumer) finish(ctx context.Context, entry, jobID string) error {
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeeping)
	defer cancel()
	if err := c.cfg.Client.Set(bg, c.markerKey(jobID), markerDone, c.cfg.MaxAge+time.Hour).Err(); err != nil {
		return fmt.Errorf("completion: mark handled: %w", err)
	}
	return c.ack(bg, entry)
}

func (c *Consumer) ack(ctx context.Context, entry string) error {
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeeping)
	defer cancel()
	if err := c.cfg.Client.XAck(bg, c.cfg.Stream, c.cfg.Group, entry).Err(); err != nil {
		return fmt.Errorf("completion: acknowledge: %w", err)
	}
	return nil
}
