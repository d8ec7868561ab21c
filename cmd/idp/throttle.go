package main

import (
	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/login"
	"github.com/region-nouvelle-aquitaine/idp/idp/throttle"
)

// newThrottle builds the sign-in throttle of the throttle section, or nil
// when it is switched off.
func newThrottle(cfg *config.Config, d deps) login.Throttle {
	t := cfg.Throttle
	if !t.Enabled {
		return nil
	}
	return throttle.New(throttle.Options{
		Client: d.redis, Prefix: cfg.Redis.KeyPrefix + "throttle:", Now: d.now,
		Policy: throttle.Policy{
			DelayAfter: t.Account.DelayAfter, Delay: t.Account.Delay, MaxDelay: t.Account.MaxDelay,
			LockAfter: t.Account.LockAfter, LockDuration: t.Account.LockDuration, ForgetAfter: t.Account.ForgetAfter,
			IPFailures: t.IP.MaxFailures, IPWindow: t.IP.Window,
		},
	})
}
