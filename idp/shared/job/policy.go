package job

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// TargetPolicy is the password policy in force on one target, as a worker
// last read it from the directory, published so that the web tier can
// check a new password against every target before queueing it. History
// and age rules cannot be checked in advance and are not published.
//
// Lengths are as OpenLDAP's ppolicy counts them: in bytes of UTF-8, not in
// characters, and enforced only when CheckQuality is above 0 (ppolicy
// checks nothing of the password's content otherwise); workers publish
// them as zero then. 0 means no rule.
type TargetPolicy struct {
	Name  string // the target's short id
	Label string // what the person reads, e.g. « l’annuaire des usagers »
	// MinLength and MaxLength are pwdMinLength and pwdMaxLength in force.
	MinLength, MaxLength int
	// CheckQuality is pwdCheckQuality: 0 no check, 1 check when possible,
	// 2 refuse what cannot be checked.
	CheckQuality int
	ReadAt       time.Time // when the worker read it (the queue's clock)
}

// storedPolicy is a TargetPolicy as kept in Redis, with its place in the
// publishing worker's order and its logical expiry.
type storedPolicy struct {
	Name         string `json:"name"`
	Label        string `json:"label"`
	MinLength    int    `json:"min_length"`
	MaxLength    int    `json:"max_length"`
	CheckQuality int    `json:"check_quality"`
	ReadAt       int64  `json:"read_at"` // Unix ms
	Pos          int    `json:"pos"`
	Exp          int64  `json:"exp"` // Unix ms
}

// PublishPolicies publishes the policies a worker read, in target order,
// each live for ttl on the queue's clock. A target left out keeps what was
// published for it before until that expires, so one failed read does not
// hide a policy. Several workers publishing the same thing is harmless.
func (q *Queue) PublishPolicies(ctx context.Context, policies []TargetPolicy, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("%w: publish policies without a lifetime", ErrInvalid)
	}
	exp := q.now().Add(ttl).UnixMilli()
	args := []any{ms(ttl + q.slack)}
	for i, p := range policies {
		if !ValidTargetName(p.Name) {
			return fmt.Errorf("%w: target name %q", ErrInvalid, p.Name)
		}
		b, err := json.Marshal(storedPolicy{
			Name: p.Name, Label: p.Label, MinLength: p.MinLength, MaxLength: p.MaxLength,
			CheckQuality: p.CheckQuality, ReadAt: p.ReadAt.UnixMilli(), Pos: i, Exp: exp,
		})
		if err != nil {
			return fmt.Errorf("job: encode policy: %w", err)
		}
		args = append(args, p.Name, string(b))
	}
	if err := q.publish.Run(ctx, q.c, q.fixedKeys(q.policiesKey()), q.args(args...)...).Err(); err != nil {
		return fmt.Errorf("job: publish policies: %w", err)
	}
	return nil
}

// Policies returns the published policies still live on the queue's
// clock, in target order; none is an empty list, not an error.
func (q *Queue) Policies(ctx context.Context) ([]TargetPolicy, error) {
	h, err := q.c.HGetAll(ctx, q.policiesKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("job: policies: %w", err)
	}
	now := q.now().UnixMilli()
	stored := make([]storedPolicy, 0, len(h))
	for name, v := range h {
		var p storedPolicy
		// A malformed entry counts as not published rather than hiding
		// the others.
		if json.Unmarshal([]byte(v), &p) == nil && p.Name == name && p.Exp > now {
			stored = append(stored, p)
		}
	}
	slices.SortFunc(stored, func(a, b storedPolicy) int {
		return cmp.Or(cmp.Compare(a.Pos, b.Pos), cmp.Compare(a.Name, b.Name))
	})
	out := make([]TargetPolicy, len(stored))
	for i, p := range stored {
		out[i] = TargetPolicy{
			Name: p.Name, Label: p.Label, MinLength: p.MinLength, MaxLength: p.MaxLength,
			CheckQuality: p.CheckQuality, ReadAt: time.UnixMilli(p.ReadAt),
		}
	}
	return out, nil
}
