package queueadmin

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
)

// Audit events of the change commands.
const (
	EventChangeRequeued = "admin.change.requeued"
	EventChangeDropped  = "admin.change.dropped"
)

// ChangeCommands are `ldapsync admin changes …` over a queue.
func ChangeCommands() []Command[*job.Queue] {
	var since time.Duration
	return []Command[*job.Queue]{
		{
			Name: "changes list", Summary: "list the changes waiting for a retry and those settled failed or partial",
			Flags: func(fs *flag.FlagSet) {
				fs.DurationVar(&since, "since", 24*time.Hour, "list the changes settled within this duration")
			},
			Run: func(ctx context.Context, q *job.Queue, c *Call) error {
				return ListChanges(ctx, q, c.Out, time.Now().Add(-since))
			},
		},
		{
			Name: "changes show", Args: []string{"ID"}, Summary: "show one change: state, reason and every directory",
			Run: func(ctx context.Context, q *job.Queue, c *Call) error { return ShowChange(ctx, q, c.Out, c.Args[0]) },
		},
		{
			Name: "changes requeue", Changes: true, Args: []string{"ID"}, Summary: "make a change waiting for its retry due now, with a fresh retry budget",
			Run: func(ctx context.Context, q *job.Queue, c *Call) error {
				return RequeueChange(ctx, q, c.Out, c.Audit, c.Args[0])
			},
		},
		{
			Name: "changes drop", Changes: true, Args: []string{"ID"}, Summary: "give up a change still in the queue (settled as cancelled)",
			Run: func(ctx context.Context, q *job.Queue, c *Call) error {
				return DropChange(ctx, q, c.Out, c.Audit, c.Args[0])
			},
		},
	}
}

const timeFormat = "2006-01-02 15:04:05Z07:00"

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(timeFormat)
}

// targets names each directory with its state (and reason).
func targets(ts []job.TargetOutcome) string {
	if len(ts) == 0 {
		return "-"
	}
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.Name + "=" + string(t.State)
		if t.Reason != "" {
			parts[i] += "(" + string(t.Reason) + ")"
		}
	}
	return strings.Join(parts, ",")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ListChanges prints the jobs in the queue (waiting, retrying or held),
// then the failed and partial ones settled after since. Never a password:
// the queue API does not return it.
func ListChanges(ctx context.Context, q *job.Queue, w io.Writer, since time.Time) error {
	queued, err := q.Queued(ctx)
	if err != nil {
		return err
	}
	settled, err := q.Settled(ctx, since, 0, job.Failed, job.Partial)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "In the queue: %d\n", len(queued))
	for _, c := range queued {
		next := "due " + when(c.DueAt)
		if c.State == job.Running {
			next = "held by " + orDash(c.Worker)
		}
		fmt.Fprintf(w, "  %s  login=%s  created=%s  %s  attempts=%d  last_reason=%s  directories=%s\n",
			c.ID, c.Login, when(c.CreatedAt), next, c.Attempts, orDash(string(c.Reason)), targets(c.Targets))
	}
	fmt.Fprintf(w, "Failed or partial since %s: %d\n", when(since), len(settled))
	for _, e := range settled {
		fmt.Fprintf(w, "  %s  sub=%s  %s  at=%s  reason=%s  attempts=%d  directories=%s\n",
			e.JobID, e.Subject, e.State, when(e.At), orDash(string(e.Reason)), e.Attempts, targets(e.Targets))
	}
	return nil
}

// ShowChange prints one change.
func ShowChange(ctx context.Context, q *job.Queue, w io.Writer, id string) error {
	c, err := q.Change(ctx, id)
	if errors.Is(err, job.ErrNotFound) {
		return fmt.Errorf("no change %s in the queue, and its status is gone (settled more than the status lifetime ago, or never queued)", id)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "change %s\n", c.ID)
	if c.InQueue {
		fmt.Fprintf(w, "  in the queue: yes\n  login: %s\n  subject: %s\n  created: %s\n  expires: %s\n",
			c.Login, c.Subject, when(c.CreatedAt), when(c.ExpiresAt))
		if c.State == job.Running {
			fmt.Fprintf(w, "  held by: %s\n", orDash(c.Worker))
		} else {
			fmt.Fprintf(w, "  due: %s\n", when(c.DueAt))
		}
	} else {
		fmt.Fprintf(w, "  in the queue: no (settled; its sealed password is deleted, it cannot be queued again)\n")
	}
	fmt.Fprintf(w, "  state: %s\n  reason: %s\n  attempts: %d\n  updated: %s\n",
		c.State, orDash(string(c.Reason)), c.Attempts, when(c.UpdatedAt))
	for _, t := range c.Targets {
		fmt.Fprintf(w, "  directory %s (%s): %s %s\n", t.Name, t.Label, t.State, t.Reason)
	}
	return nil
}

// explain turns the queue's refusals into what the operator can do.
func explain(id string, err error) error {
	switch {
	case errors.Is(err, job.ErrHeld):
		return fmt.Errorf("change %s is being written by a worker right now; look again in a minute", id)
	case errors.Is(err, job.ErrSettled):
		return fmt.Errorf("change %s is settled already; its sealed password was deleted then, so it cannot be queued again: the person must change the password again", id)
	case errors.Is(err, job.ErrExpired):
		return fmt.Errorf("change %s is past its expiry; a worker would settle it as expired: drop it, the person must change the password again", id)
	case errors.Is(err, job.ErrNotFound):
		return fmt.Errorf("no change %s in the queue", id)
	}
	return err
}

// RequeueChange makes a waiting change due now (see job.Queue.Requeue).
func RequeueChange(ctx context.Context, q *job.Queue, w io.Writer, a Auditor, id string) error {
	c, err := q.Change(ctx, id)
	if err != nil && !errors.Is(err, job.ErrNotFound) {
		return err
	}
	if err := q.Requeue(ctx, id); err != nil {
		return explain(id, err)
	}
	a.Record(ctx, EventChangeRequeued, slog.String("job", id), slog.String("sub", c.Subject))
	fmt.Fprintf(w, "Requeued change %s (login %s): due now, attempts reset to 0; ldapsync takes it at its next poll.\n", id, c.Login)
	return nil
}

// DropChange gives up a change still in the queue (see job.Queue.Cancel).
func DropChange(ctx context.Context, q *job.Queue, w io.Writer, a Auditor, id string) error {
	c, err := q.Change(ctx, id)
	if err != nil && !errors.Is(err, job.ErrNotFound) {
		return err
	}
	st, reason, err := q.Cancel(ctx, id)
	if err != nil {
		if errors.Is(err, job.ErrSettled) {
			return fmt.Errorf("change %s is settled already: nothing to drop (its sealed password is deleted; its status ends by itself)", id)
		}
		return explain(id, err)
	}
	a.Record(ctx, EventChangeDropped, slog.String("job", id), slog.String("sub", c.Subject), slog.String("state", string(st)), slog.String("reason", string(reason)))
	fmt.Fprintf(w, "Dropped change %s (login %s): settled as %s/%s, its sealed password deleted; the person may start a new change.\n", id, c.Login, st, reason)
	if st == job.Partial {
		fmt.Fprintf(w, "Some directories have the new password already: the web tier ends the person's sessions and notifies them; fix the others by hand.\n")
	}
	if reason == job.ReasonUnconfirmed {
		fmt.Fprintf(w, "A write was sent to a directory and its outcome is unknown: the person is told so; check the entry's pwdChangedTime there.\n")
	}
	return nil
}
