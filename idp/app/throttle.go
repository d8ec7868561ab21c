package app

import (
	"context"

	"github.com/region-nouvelle-aquitaine/idp/idp/audit"
	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
	"github.com/region-nouvelle-aquitaine/idp/idp/throttle"
)

// newThrottle builds the sign-in throttle of the throttle section, or nil
// when it is switched off.
func newThrottle(cfg *config.Config, d Deps) *throttle.Limiter {
	t := cfg.Throttle
	if !t.Enabled {
		return nil
	}
	return throttle.New(throttle.Options{
		Client: d.Redis, Prefix: cfg.Redis.KeyPrefix + "throttle:", Now: d.Now,
		Policy: throttle.Policy{
			DelayAfter: t.Account.DelayAfter, Delay: t.Account.Delay, MaxDelay: t.Account.MaxDelay,
			LockAfter: t.Account.LockAfter, LockDuration: t.Account.LockDuration,
			IPFailures: t.IP.MaxFailures, IPWindow: t.IP.Window,
		},
	})
}

// throttleForget forgets a person's failed sign-ins once a new password is
// written: the counters of their uid and mail address, and their ceiling.
type throttleForget struct {
	limiter *throttle.Limiter
	ids     audit.Identifiers
}

func (f throttleForget) ForgetPerson(ctx context.Context, u ldapauth.User) error {
	keys := []string{throttle.AccountKey(u.Subject)}
	for _, id := range []string{u.Username, u.Email} {
		if id != "" {
			keys = append(keys, throttle.IdentifierKey(f.ids.Hash(id)))
		}
	}
	return f.limiter.Forget(ctx, keys...)
}
