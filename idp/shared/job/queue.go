package job

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/durable"
)

// Options configures a Queue. Zero values get the documented defaults.
type Options struct {
	// Client is required: a single node, Sentinel or Cluster client.
	Client redis.UniversalClient
	// Prefix starts every key; default "idp:". The web tier and the
	// workers must use the same one.
	Prefix string
	// Now is the logical clock of every decision (due, lease, expiry);
	// default time.Now.
	Now func() time.Time
	// StatusTTL is how long a settled status stays readable; default 1h.
	StatusTTL time.Duration
	// Slack is added to Redis TTLs beyond logical expiry (Redis TTLs only
	// clean up). It also bounds how long after its ExpiresAt a job whose
	// write must still be confirmed is kept; default 1h.
	Slack time.Duration
	// EventsMaxLen trims the events stream (approximately); default 100000.
	EventsMaxLen int64
	// ReplicaWait bounds how long Enqueue waits for a replica to hold the
	// job (WAIT), when the primary has replicas; default 1s.
	ReplicaWait time.Duration
}

// Queue is the password-change queue in Redis, shared by the web tier
// (Enqueue, Status) and the workers (Claim and the rest). It is safe for
// concurrent use.
type Queue struct {
	c         redis.UniversalClient
	base      string // prefix + "{pwchange}:"
	now       func() time.Time
	statusTTL time.Duration
	slack     time.Duration
	maxLen    int64
	wait      time.Duration

	enqueue, claim, complete, retry, renew, mark, record, publish *redis.Script
}

// NewQueue applies defaults to opts and returns a Queue. It does not
// contact Redis.
func NewQueue(opts Options) *Queue {
	if opts.Prefix == "" {
		opts.Prefix = "idp:"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.StatusTTL <= 0 {
		opts.StatusTTL = time.Hour
	}
	if opts.Slack <= 0 {
		opts.Slack = time.Hour
	}
	if opts.EventsMaxLen <= 0 {
		opts.EventsMaxLen = 100_000
	}
	if opts.ReplicaWait <= 0 {
		opts.ReplicaWait = time.Second
	}
	return &Queue{
		c: opts.Client, base: opts.Prefix + "{pwchange}:", now: opts.Now,
		statusTTL: opts.StatusTTL, slack: opts.Slack, maxLen: opts.EventsMaxLen, wait: opts.ReplicaWait,
		enqueue:  redis.NewScript(enqueueScript),
		claim:    redis.NewScript(claimScript),
		complete: redis.NewScript(completeScript),
		retry:    redis.NewScript(retryScript),
		renew:    redis.NewScript(renewScript),
		mark:     redis.NewScript(markScript),
		record:   redis.NewScript(recordScript),
		publish:  redis.NewScript(publishPoliciesScript),
	}
}

// Key builders: the single place that spells key names (see doc.go).
func (q *Queue) readyKey() string           { return q.base + "ready" }
func (q *Queue) leasesKey() string          { return q.base + "leases" }
func (q *Queue) jobKey(id string) string    { return q.base + "job:" + id }
func (q *Queue) statusKey(id string) string { return q.base + "status:" + id }
func (q *Queue) policiesKey() string        { return q.base + "policies" }
func (q *Queue) pendingKey(sub string) string {
	return q.base + "pending:" + base64.RawURLEncoding.EncodeToString([]byte(sub))
}
func (q *Queue) writtenKey(sub string) string {
	return q.base + "written:" + base64.RawURLEncoding.EncodeToString([]byte(sub))
}

// EventsStream is the name of the stream where every settled job is
// published (see Event).
func (q *Queue) EventsStream() string { return q.base + "events" }

// fixedKeys are KEYS[1..3] of every script.
func (q *Queue) fixedKeys(more ...string) []string {
	return append([]string{q.readyKey(), q.leasesKey(), q.EventsStream()}, more...)
}

// args are ARGV[1..2] of every script, then more.
func (q *Queue) args(more ...any) []any {
	return append([]any{q.base, q.now().UnixMilli()}, more...)
}

// record is the job as stored, without its sealed password.
type record struct {
	ID        string    `json:"id"`
	Subject   string    `json:"sub"`
	Login     string    `json:"login"`
	Mail      string    `json:"mail,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	ExpiresAt time.Time `json:"expires_at"`
	Signature []byte    `json:"sig,omitempty"`
}

// Enqueue queues j for a worker, due at once. It fails with ErrInvalid for
// a malformed or already expired job, ErrConflict when the id is taken,
// *PendingError (ErrPending) while the subject has an unsettled job, and
// ErrSuperseded when a job of the subject was written at or after j.Since.
//
// When the primary has replicas, Enqueue returns only once one of them
// holds the job, so that a failover right after cannot lose a change the
// person was told is on its way; if none does within ReplicaWait it fails
// with durable.ErrNotReplicated: the job is queued on the primary and will
// most likely be applied, but that cannot be promised.
func (q *Queue) Enqueue(ctx context.Context, j Job) error {
	now := q.now()
	if err := j.check(now); err != nil {
		return err
	}
	rec, err := json.Marshal(record{ID: j.ID, Subject: j.Subject, Login: j.Login, Mail: j.Mail, CreatedAt: j.CreatedAt, ExpiresAt: j.ExpiresAt, Signature: j.Signature})
	if err != nil {
		return fmt.Errorf("job: encode: %w", err)
	}
	life := j.ExpiresAt.Sub(now)
	statusExp := j.ExpiresAt.Add(q.statusTTL)
	var since int64
	if !j.Since.IsZero() {
		since = j.Since.UnixMilli()
	}
	var cmd *redis.Cmd
	// EVAL, not EVALSHA: a pipeline cannot fall back on NOSCRIPT, and
	// enqueues are rare.
	err = durable.Write(ctx, q.c, q.readyKey(), q.wait, func(p redis.Pipeliner) {
		cmd = q.enqueue.Eval(ctx, p,
			q.fixedKeys(q.jobKey(j.ID), q.statusKey(j.ID), q.pendingKey(j.Subject), q.writtenKey(j.Subject)),
			q.args(j.ID, rec, j.Sealed, j.ExpiresAt.UnixMilli(), j.Subject,
				ms(life+q.slack), statusExp.UnixMilli(), ms(statusExp.Sub(now)+q.slack),
				// The written time outlives every flow that began before
				// it: a flow lasts as long as a job, twice when its own
				// first change failed and it tries again.
				since, ms(2*life+q.slack))...)
	})
	if err != nil && !errors.Is(err, durable.ErrNotReplicated) {
		return fmt.Errorf("job: enqueue: %w", err)
	}
	unreplicated := err
	res, err := cmd.StringSlice()
	if err != nil {
		return fmt.Errorf("job: enqueue: %w", err)
	}
	if unreplicated != nil && len(res) == 1 && res[0] == "ok" {
		return fmt.Errorf("job: enqueue %s: %w", j.ID, unreplicated)
	}
	switch {
	case len(res) == 1 && res[0] == "ok":
		return nil
	case len(res) == 1 && res[0] == "conflict":
		return fmt.Errorf("%w: %s", ErrConflict, j.ID)
	case len(res) == 2 && res[0] == "pending":
		return &PendingError{JobID: res[1]}
	case len(res) == 1 && res[0] == "superseded":
		return ErrSuperseded
	}
	return fmt.Errorf("job: enqueue: unexpected reply %q", res)
}

// Status returns the state of job id. A status lives while its job does
// and StatusTTL after it settled; then, or when id was never queued, it
// is ErrNotFound.
func (q *Queue) Status(ctx context.Context, id string) (Status, error) {
	if !validID(id) {
		return Status{}, ErrNotFound
	}
	h, err := q.c.HGetAll(ctx, q.statusKey(id)).Result()
	if err != nil {
		return Status{}, fmt.Errorf("job: status: %w", err)
	}
	if len(h) == 0 {
		return Status{}, ErrNotFound
	}
	exp, err1 := strconv.ParseInt(h["exp"], 10, 64)
	updated, err2 := strconv.ParseInt(h["updated"], 10, 64)
	attempts, err3 := strconv.Atoi(h["attempts"])
	if err := errors.Join(err1, err2, err3); err != nil {
		return Status{}, fmt.Errorf("job: status %s malformed: %w", id, err)
	}
	if !q.now().Before(time.UnixMilli(exp)) {
		return Status{}, ErrNotFound
	}
	targets, err := decodeTargets(h["targets"])
	if err != nil {
		return Status{}, fmt.Errorf("job: status %s malformed: %w", id, err)
	}
	return Status{
		JobID: id, State: State(h["state"]), Reason: Reason(h["reason"]),
		Attempts: attempts, UpdatedAt: time.UnixMilli(updated), Targets: targets,
	}, nil
}

// encodeTargets is the JSON of a list of target outcomes; "" for none
// (the scripts then keep what the status has).
func encodeTargets(ts []TargetOutcome) (string, error) {
	if len(ts) == 0 {
		return "", nil
	}
	for _, t := range ts {
		if !ValidTargetName(t.Name) {
			return "", fmt.Errorf("%w: target name %q", ErrInvalid, t.Name)
		}
	}
	b, err := json.Marshal(ts)
	if err != nil {
		return "", fmt.Errorf("job: encode targets: %w", err)
	}
	return string(b), nil
}

// decodeTargets reads what encodeTargets (or a script) wrote; "" is none.
func decodeTargets(s string) ([]TargetOutcome, error) {
	if s == "" {
		return nil, nil
	}
	var ts []TargetOutcome
	if err := json.Unmarshal([]byte(s), &ts); err != nil {
		return nil, fmt.Errorf("targets: %w", err)
	}
	return ts, nil
}

// Counts returns how many jobs wait (due or not) and how many are held.
func (q *Queue) Counts(ctx context.Context) (waiting, running int64, err error) {
	p := q.c.Pipeline()
	w := p.ZCard(ctx, q.readyKey())
	r := p.ZCard(ctx, q.leasesKey())
	if _, err := p.Exec(ctx); err != nil {
		return 0, 0, fmt.Errorf("job: counts: %w", err)
	}
	return w.Val(), r.Val(), nil
}

// ms is a duration in whole milliseconds, at least one (PX 0 is an error).
func ms(d time.Duration) int64 { return max(d.Milliseconds(), 1) }
