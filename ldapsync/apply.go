package ldapsync

import (
	"context"
	"errors"
	"log/slog"
	"slices"

	"github.com/go-ldap/ldap/v3"
	"go.opentelemetry.io/otel/attribute"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/tracing"
	"github.com/region-nouvelle-aquitaine/idp/ldapsync/directory"
)

// apply makes one attempt at j: verify the web tier's signature, open the
// password, then write it to every
// target not settled by an earlier attempt, in order, recording each
// target's outcome as soon as it is known. It says whether the job is
// settled, and how, or is to be tried again.
func (w *Worker) apply(ctx context.Context, j *job.Job, log *slog.Logger) outcome {
	ts := make([]job.TargetOutcome, len(w.Targets))
	if err := w.Verifier.Verify(j); err != nil {
		// Forged, or altered in Redis: nothing of it is believed, not even
		// the progress it carries. The subject is only what it claims.
		log.Error("ldapsync: job refused: not signed by the web tier; nothing written", "claimed_sub", j.Subject, "err", err)
		for i, t := range w.Targets {
			ts[i] = job.TargetOutcome{Name: t.Name, Label: t.Label, State: job.Failed, Reason: job.ReasonUnauthenticated}
		}
		return conclude(ts)
	}
	for i, t := range w.Targets {
		ts[i] = job.TargetOutcome{Name: t.Name, Label: t.Label, State: job.Queued}
		switch o, ok := j.Outcomes[t.Name]; {
		case ok:
			ts[i].State, ts[i].Reason = o.State, o.Reason
		case j.Marks[t.Name] != "":
			// Marked by an earlier attempt that did not settle it: written
			// or not, until this attempt finds out.
			ts[i].Reason = job.ReasonUnconfirmed
		}
	}
	pw, err := w.Opener.Open(j)
	if err != nil {
		log.Error("ldapsync: sealed password unreadable (sealed to another key?)", "err", err)
		for i := range ts {
			if !ts[i].State.Settled() {
				ts[i].State, ts[i].Reason = job.Failed, job.ReasonUnreadable
			}
		}
		return conclude(ts)
	}
	for i, t := range w.Targets {
		if ts[i].State.Settled() {
			continue // settled by an earlier attempt: never written twice
		}
		if ctx.Err() != nil {
			break // stopping, or the lease is lost: the rest waits
		}
		tlog := log.With("target", t.Name)
		// Once a policy refused the password and no target has it, the
		// person picks another one: the targets left are not written with
		// this one, so nothing is left inconsistent. Only an earlier
		// attempt's write is looked for.
		resolveOnly := hasState(ts, job.Rejected) && !hasState(ts, job.Done)
		tctx, span := tracing.Start(ctx, "ldapsync.directory_write", attribute.String("target", t.Name))
		out := w.applyTarget(tctx, j, t, pw, resolveOnly, tlog)
		span.SetAttributes(attribute.String("outcome", string(out.state)), attribute.String("reason", string(out.reason)))
		span.End()
		if out.lost {
			return out
		}
		if out.state == "" {
			ts[i].Reason = out.reason // still queued, and why
			continue
		}
		ts[i].State, ts[i].Reason = out.state, out.reason
		tlog.Info("ldapsync: target settled", "state", out.state, "reason", out.reason)
		if lost := w.recordProgress(ctx, j, ts, tlog); lost {
			return outcome{lost: true}
		}
	}
	return conclude(ts)
}

// recordProgress records the targets settled so far, even when ctx has
// ended (a write that was applied must be recorded). Only a lost lease
// stops the attempt: if Redis fails, the final Complete carries the same
// outcomes, and a later attempt would find the writes by their marks.
func (w *Worker) recordProgress(ctx context.Context, j *job.Job, ts []job.TargetOutcome, log *slog.Logger) (lost bool) {
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeeping)
	defer cancel()
	err := w.Queue.Record(bg, j, ts)
	switch {
	case errors.Is(err, job.ErrLeaseLost):
		log.Warn("ldapsync: lease lost; another worker has the job")
		return true
	case err != nil:
		log.Warn("ldapsync: target outcome not recorded", "err", err)
	}
	return false
}

func hasState(ts []job.TargetOutcome, st job.State) bool {
	for _, t := range ts {
		if t.State == st {
			return true
		}
	}
	return false
}

// conclude decides what becomes of the job once an attempt left its
// targets as ts. Settled when every target is; or when none was written,
// none may have been (no unconfirmed write), and the first target that
// refused did so by its policy: Rejected, the person picks another
// password. Otherwise retried, with the reason of the first target left.
func conclude(ts []job.TargetOutcome) outcome {
	out := outcome{targets: ts}
	pending, unconfirmed := false, false
	for _, t := range ts {
		if !t.State.Settled() {
			if !pending {
				out.reason = t.Reason
			}
			pending = true
			unconfirmed = unconfirmed || t.Reason == job.ReasonUnconfirmed
		}
	}
	if !pending {
		return final(ts)
	}
	if !hasState(ts, job.Done) && !unconfirmed {
		if first, ok := firstRefusal(ts); ok && first.State == job.Rejected {
			out.state, out.reason = job.Rejected, first.Reason
		}
	}
	return out
}

// firstRefusal is the first settled target that was not written.
func firstRefusal(ts []job.TargetOutcome) (job.TargetOutcome, bool) {
	for _, t := range ts {
		if t.State.Settled() && t.State != job.Done {
			return t, true
		}
	}
	return job.TargetOutcome{}, false
}

// final is the job's state once every target is settled: Done when every
// one was written; some written: Partial, with the first failing target's
// reason; none written but one may have been: Failed, unconfirmed (the
// person is neither told nothing changed nor asked for another password,
// and the sessions end); else Rejected when the first was refused by its
// policy, or Failed, with its reason.
func final(ts []job.TargetOutcome) outcome {
	out := outcome{targets: ts, state: job.Done}
	first, refused := firstRefusal(ts)
	if !refused {
		return out
	}
	out.reason = first.Reason
	switch {
	case hasState(ts, job.Done):
		out.state = job.Partial
	case slices.ContainsFunc(ts, func(t job.TargetOutcome) bool { return t.Reason == job.ReasonUnconfirmed }):
		out.state, out.reason = job.Failed, job.ReasonUnconfirmed
	case first.State == job.Rejected:
		out.state = job.Rejected
	default:
		out.state = job.Failed
	}
	return out
}

// giveUp settles a job at its retry limit: the targets still pending fail
// with the reason they were left with (unavailable, unconfirmed).
func giveUp(ts []job.TargetOutcome) outcome {
	ts = slices.Clone(ts)
	for i := range ts {
		if !ts[i].State.Settled() {
			ts[i].State = job.Failed
			if ts[i].Reason == job.ReasonNone {
				ts[i].Reason = job.ReasonUnavailable
			}
		}
	}
	return final(ts)
}

// applyTarget makes one attempt at writing j's password pw to t: find the
// entry by the job's identifier, make sure it is the job's subject (when
// t checks it), make sure an earlier attempt did not write it already,
// mark, write. With resolveOnly it only looks for an earlier attempt's
// write, and leaves the target queued when there was none.
func (w *Worker) applyTarget(ctx context.Context, j *job.Job, t Target, pw string, resolveOnly bool, log *slog.Logger) outcome {
	// An earlier attempt that marked this target may have written: until
	// the directory says otherwise, a failure leaves it unconfirmed.
	mark := j.Marks[t.Name]
	uncertain := mark != ""
	if resolveOnly && !uncertain {
		return retry(job.ReasonNone)
	}
	id := j.Login
	if t.FindBy == FindByMail {
		id = j.Mail
	}
	if id == "" {
		log.Warn("ldapsync: the job carries no mail, which this target finds people by; not written", "sub", j.Subject)
		return settled(job.Failed, job.ReasonNoSuchUser)
	}
	e, err := t.Writer.Lookup(ctx, id)
	if err != nil {
		return w.failure(err, uncertain, log)
	}
	if t.CheckSubject && e.Subject != j.Subject {
		// The login now names someone else, or the directory's subject
		// attribute is not the web tier's: never write then.
		log.Warn("ldapsync: the identifier names an entry of another subject; not written", "sub", j.Subject)
		return settled(job.Failed, job.ReasonNoSuchUser)
	}
	before := e // the entry as it was before this job's first write
	if uncertain {
		before.Mark = mark
		changed, err := t.Writer.Changed(ctx, before)
		if err != nil {
			return w.failure(err, true, log)
		}
		if changed {
			log.Info("ldapsync: an earlier attempt applied the password")
			return settled(job.Done, job.ReasonNone)
		}
		if resolveOnly {
			return retry(job.ReasonNone)
		}
	}
	if !w.Clock().Before(j.ExpiresAt) {
		return settled(job.Failed, job.ReasonExpired) // no write starts after ExpiresAt
	}
	if !uncertain {
		// Recorded before writing, so that whoever takes the job over after
		// a crash asks the directory before writing again.
		if err := w.Queue.Mark(ctx, j, t.Name, e.Mark); err != nil {
			if errors.Is(err, job.ErrLeaseLost) {
				return outcome{lost: true}
			}
			log.Warn("ldapsync: could not record the mark; not written", "err", err)
			return retry(job.ReasonUnavailable)
		}
	}

	err = t.Writer.Write(ctx, e, pw)
	var pe *directory.PolicyError
	switch {
	case err == nil:
		return settled(job.Done, job.ReasonNone)
	case errors.As(err, &pe):
		if pe.Code == ldap.BeheraPasswordInHistory && uncertain {
			// An earlier attempt's write may have landed after the check
			// above; then "in history" is our own password.
			if changed, cerr := t.Writer.Changed(ctx, before); cerr == nil && changed {
				log.Info("ldapsync: an earlier attempt applied the password")
				return settled(job.Done, job.ReasonNone)
			}
		}
		return settled(job.Rejected, policyReason(pe.Code))
	}
	return w.failure(err, errors.Is(err, directory.ErrOutcomeUnknown), log)
}

// failure sorts a directory error: settled for good, or retried later
// (as unconfirmed when a write may have been applied).
func (w *Worker) failure(err error, unconfirmed bool, log *slog.Logger) outcome {
	switch {
	case errors.Is(err, directory.ErrNoSuchUser):
		return settled(job.Failed, job.ReasonNoSuchUser)
	case errors.Is(err, directory.ErrRefused):
		log.Error("ldapsync: the directory refused the writer; check its rights and the configuration", "err", err)
		return settled(job.Failed, job.ReasonRefused)
	}
	log.Warn("ldapsync: directory unavailable", "err", err)
	if unconfirmed {
		return retry(job.ReasonUnconfirmed)
	}
	return retry(job.ReasonUnavailable)
}

// policyReason maps a ppolicy error code to a job reason.
func policyReason(code int8) job.Reason {
	switch code {
	case ldap.BeheraPasswordTooShort:
		return job.ReasonTooShort
	case directory.PasswordTooLong:
		return job.ReasonTooLong
	case ldap.BeheraPasswordInHistory:
		return job.ReasonInHistory
	case ldap.BeheraPasswordTooYoung:
		return job.ReasonTooYoung
	case ldap.BeheraInsufficientPasswordQuality:
		return job.ReasonQuality
	}
	return job.ReasonPolicy
}
