package job

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Claim takes the oldest due job for worker and holds it for lease: until
// then no other Claim returns it. Jobs whose lease ended without being
// settled (their worker died) are put back first and handed out again.
// It returns ErrEmpty when nothing is due.
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
	if len(v) != 6 {
		return nil, fmt.Errorf("job: claim: unexpected reply of %d items", len(v))
	}
	id, _ := v[0].(string)
	recJSON, _ := v[1].(string)
	sealed, _ := v[2].(string)
	attempt, _ := v[3].(int64)
	mark, _ := v[4].(string)
	until, _ := v[5].(int64)
	var rec record
	if err := json.Unmarshal([]byte(recJSON), &rec); err != nil || rec.ID != id {
		// Not written by Enqueue: settle it rather than meet it again.
		bad := &Job{ID: id, token: token}
		cerr := q.Complete(ctx, bad, Status{State: Failed, Reason: ReasonUnreadable})
		return nil, errors.Join(fmt.Errorf("job: claim: job %s malformed, settled as failed", id), cerr)
	}
	return &Job{
		ID: id, Subject: rec.Subject, Login: rec.Login, Sealed: []byte(sealed),
		CreatedAt: rec.CreatedAt, ExpiresAt: rec.ExpiresAt,
		Attempt: int(attempt), Worker: worker, LeaseUntil: time.UnixMilli(until),
		Mark: mark, token: token,
	}, nil
}

// Renew extends the lease of a held job to lease from now.
func (q *Queue) Renew(ctx context.Context, j *Job, lease time.Duration) error {
	until := q.now().Add(lease)
	if err := q.held(ctx, q.renew, "renew", j, until.UnixMilli()); err != nil {
		return err
	}
	j.LeaseUntil = time.UnixMilli(until.UnixMilli())
	return nil
}

// Mark records mark on a held job, just before its first write: a later
// attempt finds it in Job.Mark. Only the first mark is kept; j.Mark is
// set to whichever that is.
func (q *Queue) Mark(ctx context.Context, j *Job, mark string) error {
	if mark == "" {
		return fmt.Errorf("%w: empty mark", ErrInvalid)
	}
	if err := q.held(ctx, q.mark, "mark", j, mark); err != nil {
		return err
	}
	if j.Mark == "" {
		j.Mark = mark
	}
	return nil
}

// Retry puts a held job back in the queue, due at notBefore, with reason
// (why this attempt failed) in its status.
func (q *Queue) Retry(ctx context.Context, j *Job, notBefore time.Time, reason Reason) error {
	return q.held(ctx, q.retry, "retry", j, notBefore.UnixMilli(), string(reason))
}

// Complete settles a held job with st.State (Done, Rejected or Failed) and
// st.Reason: the job and its sealed password are deleted, the status is
// kept for StatusTTL, and an Event is published on EventsStream, in one
// step. st.JobID, if set, must be j.ID; other fields of st are ignored.
func (q *Queue) Complete(ctx context.Context, j *Job, st Status) error {
	if !st.State.Settled() || (st.JobID != "" && st.JobID != j.ID) {
		return fmt.Errorf("%w: complete %s with state %q", ErrInvalid, j.ID, st.State)
	}
	return q.held(ctx, q.complete, "complete", j,
		string(st.State), string(st.Reason), ms(q.statusTTL), ms(q.slack), q.maxLen)
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
