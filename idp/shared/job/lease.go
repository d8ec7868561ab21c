package job

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Claim takes the oldest due job for worker and holds it for lease: until
// then no other Claim returns it. Jobs whose lease ended without being
// settled (their worker died) are put back first and handed out again.
// It returns ErrEmpty when nothing is due, and an error wrapping
// ErrReplayed (naming the id) when it dropped a job whose id was settled
// already, until that job's ExpiresAt and Slack passed.
func (q *Queue) Claim(ctx context.Context, worker string, lease time.Duration) (*Job, error) {
	if lease <= 0 {
		return nil, fmt.Errorf("%w: claim without a lease", ErrInvalid)
	}
	token := newToken()
	v, err := q.claim.Run(ctx, q.c, q.fixedKeys(),
		q.args(ms(lease), worker, token, ms(q.statusTTL), ms(q.slack), q.maxLen)...).Slice()
	if errors.Is(err, redis.Nil) {
		return nil, ErrEmpty
	}
	if err != nil {
		return nil, fmt.Errorf("job: claim: %w", err)
	}
	if len(v) == 2 && v[0] == "replayed" {
		return nil, fmt.Errorf("%w: %v", ErrReplayed, v[1])
	}
	if len(v) != 6 {
		return nil, fmt.Errorf("job: claim: unexpected reply of %d items", len(v))
	}
	id, _ := v[0].(string)
	recJSON, _ := v[1].(string)
	sealed, _ := v[2].(string)
	attempt, _ := v[3].(int64)
	until, _ := v[4].(int64)
	progress, _ := v[5].([]any)
	var rec record
	if err := json.Unmarshal([]byte(recJSON), &rec); err != nil || rec.ID != id {
		// Not written by Enqueue: settle it rather than meet it again.
		bad := &Job{ID: id, token: token}
		cerr := q.Complete(ctx, bad, Status{State: Failed, Reason: ReasonUnreadable})
		return nil, errors.Join(fmt.Errorf("job: claim: job %s malformed, settled as failed", id), cerr)
	}
	j := &Job{
		ID: id, Subject: rec.Subject, Login: rec.Login, Mail: rec.Mail, Sealed: []byte(sealed),
		CreatedAt: rec.CreatedAt, ExpiresAt: rec.ExpiresAt, Signature: rec.Signature,
		Attempt: int(attempt), Worker: worker, LeaseUntil: time.UnixMilli(until),
		token: token,
	}
	j.readProgress(progress)
	return j, nil
}

// readProgress fills Marks and Outcomes from the job's "mark:<target>"
// and "out:<target>" fields. A malformed outcome is left out: the target
// is then tried again, its mark telling whether it was written.
func (j *Job) readProgress(kv []any) {
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := kv[i].(string)
		v, _ := kv[i+1].(string)
		if name, ok := strings.CutPrefix(k, "mark:"); ok && ValidTargetName(name) && v != "" {
			if j.Marks == nil {
				j.Marks = map[string]string{}
			}
			j.Marks[name] = v
		}
		if name, ok := strings.CutPrefix(k, "out:"); ok {
			var o TargetOutcome
			if json.Unmarshal([]byte(v), &o) != nil || o.Name != name || !o.State.settledTarget() {
				continue
			}
			if j.Outcomes == nil {
				j.Outcomes = map[string]TargetOutcome{}
			}
			j.Outcomes[name] = o
		}
	}
}

// settledTarget reports whether s is final for one target.
func (s State) settledTarget() bool { return s == Done || s == Rejected || s == Failed }

// Renew extends the lease of a held job to lease from now.
func (q *Queue) Renew(ctx context.Context, j *Job, lease time.Duration) error {
	until := q.now().Add(lease)
	if err := q.held(ctx, q.renew, "renew", j, until.UnixMilli()); err != nil {
		return err
	}
	j.LeaseUntil = time.UnixMilli(until.UnixMilli())
	return nil
}

// Mark records mark as target's mark on a held job, just before the
// job's first write there: a later attempt finds it in Job.Marks. Only
// the first mark of a target is kept; j.Marks[target] is set to
// whichever that is.
func (q *Queue) Mark(ctx context.Context, j *Job, target, mark string) error {
	switch {
	case mark == "":
		return fmt.Errorf("%w: empty mark", ErrInvalid)
	case !ValidTargetName(target):
		return fmt.Errorf("%w: target name %q", ErrInvalid, target)
	}
	if err := q.held(ctx, q.mark, "mark", j, target, mark); err != nil {
		return err
	}
	if j.Marks[target] == "" {
		if j.Marks == nil {
			j.Marks = map[string]string{}
		}
		j.Marks[target] = mark
	}
	return nil
}

// Record saves a held job's progress as soon as it is known: targets is
// every target in order, as the worker sees them now. Those settled
// (Done, Rejected, Failed) are kept in the job, so that a later attempt
// (after a retry or a crash) finds them in Job.Outcomes and does not try
// them again; the whole list goes to the status, for the waiting screen.
func (q *Queue) Record(ctx context.Context, j *Job, targets []TargetOutcome) error {
	all, err := encodeTargets(targets)
	if err != nil {
		return err
	}
	if all == "" {
		return fmt.Errorf("%w: record without targets", ErrInvalid)
	}
	args := []any{all}
	var settled []TargetOutcome
	for _, t := range targets {
		if !t.State.settledTarget() {
			continue
		}
		b, err := json.Marshal(t)
		if err != nil {
			return fmt.Errorf("job: encode outcome: %w", err)
		}
		args = append(args, t.Name, string(b))
		settled = append(settled, t)
	}
	if err := q.held(ctx, q.record, "record", j, args...); err != nil {
		return err
	}
	for _, t := range settled {
		if j.Outcomes == nil {
			j.Outcomes = map[string]TargetOutcome{}
		}
		j.Outcomes[t.Name] = t
	}
	return nil
}

// Retry puts a held job back in the queue, due at notBefore, with reason
// (why this attempt failed) in its status, and targets (if given: every
// target in order) as the status's list.
func (q *Queue) Retry(ctx context.Context, j *Job, notBefore time.Time, reason Reason, targets ...TargetOutcome) error {
	ts, err := encodeTargets(targets)
	if err != nil {
		return err
	}
	return q.held(ctx, q.retry, "retry", j, notBefore.UnixMilli(), string(reason), ts)
}

// Complete settles a held job with st.State (Done, Rejected, Failed or
// Partial), st.Reason and st.Targets (every target in order; none keeps
// what Record stored): the job and its sealed password are deleted, the
// status is kept for StatusTTL, and an Event is published on
// EventsStream, in one step. st.JobID, if set, must be j.ID; other fields
// of st are ignored.
func (q *Queue) Complete(ctx context.Context, j *Job, st Status) error {
	if !st.State.Settled() || (st.JobID != "" && st.JobID != j.ID) {
		return fmt.Errorf("%w: complete %s with state %q", ErrInvalid, j.ID, st.State)
	}
	ts, err := encodeTargets(st.Targets)
	if err != nil {
		return err
	}
	return q.held(ctx, q.complete, "complete", j,
		string(st.State), string(st.Reason), ts, ms(q.statusTTL), ms(q.slack), q.maxLen)
}

// held runs one of the scripts that act on a held job (ARGV 3 and 4 are
// its id and token) and maps "not held" to ErrLeaseLost.
func (q *Queue) held(ctx context.Context, s *redis.Script, what string, j *Job, more ...any) error {
	if j == nil || j.token == "" {
		return fmt.Errorf("%w: %s: not a claimed job", ErrLeaseLost, what)
	}
	n, err := s.Run(ctx, q.c, q.fixedKeys(), q.args(append([]any{j.ID, j.token}, more...)...)...).Int()
	if err != nil {
		return fmt.Errorf("job: %s %s: %w", what, j.ID, err)
	}
	if n != 1 {
		return fmt.Errorf("%w: %s %s", ErrLeaseLost, what, j.ID)
	}
	return nil
}

func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
