package throttle

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
)

// FromConfig is the sign-in throttle of the throttle section, its keys
// under keyPrefix + "throttle:", or nil when the section switches it off.
func FromConfig(c config.Throttle, client redis.UniversalClient, keyPrefix string, now func() time.Time, log *slog.Logger) *Limiter {
	if !c.Enabled {
		return nil
	}
	return New(Options{
		Client: client, Prefix: keyPrefix + "throttle:", Now: now, Log: log,
		Policy: Policy{
			DelayAfter: c.Account.DelayAfter, Delay: c.Account.Delay, MaxDelay: c.Account.MaxDelay,
			LockAfter: c.Account.LockAfter, LockDuration: c.Account.LockDuration,
			IPFailures: c.IP.MaxFailures, IPWindow: c.IP.Window,
		},
	})
}

// PersonForgetter forgets a person's failed sign-ins once a new password
// is written, so that whoever guessed at the old one does not keep its
// owner out: the counters of their uid and mail address, and their
// ceiling.
type PersonForgetter struct {
	limiter *Limiter
	hash    func(typed string) string
}

// NewPersonForgetter forgets on l; hash is how sign-in names the counter
// of a typed identifier (audit.Identifiers.Hash).
func NewPersonForgetter(l *Limiter, hash func(typed string) string) *PersonForgetter {
	return &PersonForgetter{limiter: l, hash: hash}
}

// ForgetPerson clears u's counters.
func (f *PersonForgetter) ForgetPerson(ctx context.Context, u ldapauth.User) error {
	keys := []string{AccountKey(u.Subject)}
	for _, id := range []string{u.Username, u.Email} {
		if id != "" {
			keys = append(keys, IdentifierKey(f.hash(id)))
		}
	}
	return f.limiter.Forget(ctx, keys...)
}
