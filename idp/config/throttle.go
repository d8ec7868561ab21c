package config

import "time"

// Throttle configures the slowing down of password guessing; the
// fields match idp/throttle.Policy.
type Throttle struct {
	Enabled bool // default true; false only for tests that measure timing
	Account AccountThrottle
	IP      IPThrottle
}

// AccountThrottle limits failures per typed identifier (and, silently, per
// person: see idp/throttle.Keys).
type AccountThrottle struct {
	DelayAfter   int           // failures within lock_duration before the first delay; default 5
	Delay        time.Duration // the first delay, doubled at each further failure; default 1s
	MaxDelay     time.Duration // default 1m
	LockAfter    int           // failures within lock_duration that lock; default 10, at most 100
	LockDuration time.Duration // the sliding window failures are counted in, and the lock; default 15m
}

// IPThrottle limits failures per client address (IPv6: per /64).
type IPThrottle struct {
	MaxFailures int           // default 100
	Window      time.Duration // default 15m
}

// DefaultThrottle is the throttle section's defaults, for configurations
// built in code (dev mode, tests), whose zero Throttle is switched off.
func DefaultThrottle() Throttle {
	return Throttle{
		Enabled: true,
		Account: AccountThrottle{DelayAfter: 5, Delay: time.Second, MaxDelay: time.Minute,
			LockAfter: 10, LockDuration: 15 * time.Minute},
		IP: IPThrottle{MaxFailures: 100, Window: 15 * time.Minute},
	}
}

func (d *decoder) decodeThrottle(m *mapping, t *Throttle) {
	m.boolean("enabled", &t.Enabled)
	a := m.sub("account")
	a.integer("delay_after", &t.Account.DelayAfter)
	a.duration("delay", &t.Account.Delay)
	a.duration("max_delay", &t.Account.MaxDelay)
	a.integer("lock_after", &t.Account.LockAfter)
	a.duration("lock_duration", &t.Account.LockDuration)
	a.done()
	ip := m.sub("ip")
	ip.integer("max_failures", &t.IP.MaxFailures)
	ip.duration("window", &t.IP.Window)
	ip.done()
	m.done()
}

func (d *decoder) throttleDefaults(t *Throttle) {
	def := DefaultThrottle()
	set := func(path string, apply func()) {
		if !d.given(path) {
			apply()
		}
	}
	set("throttle.enabled", func() { t.Enabled = def.Enabled })
	a, da := &t.Account, def.Account
	set("throttle.account.delay_after", func() { a.DelayAfter = da.DelayAfter })
	set("throttle.account.delay", func() { a.Delay = da.Delay })
	set("throttle.account.max_delay", func() { a.MaxDelay = da.MaxDelay })
	set("throttle.account.lock_after", func() { a.LockAfter = da.LockAfter })
	set("throttle.account.lock_duration", func() { a.LockDuration = da.LockDuration })
	set("throttle.ip.max_failures", func() { t.IP.MaxFailures = def.IP.MaxFailures })
	set("throttle.ip.window", func() { t.IP.Window = def.IP.Window })
}

func (v *validator) throttle() {
	a, ip := v.c.Throttle.Account, v.c.Throttle.IP
	const p = "throttle.account."
	// NIST SP 800-63B §3.2.2: at most 100 consecutive failures.
	lockOK := v.between(p+"lock_after", a.LockAfter, 1, 100)
	if v.between(p+"delay_after", a.DelayAfter, 1, 100) && lockOK && a.DelayAfter > a.LockAfter {
		v.report(p+"delay_after", "(%d) must not be more than lock_after (%d)", a.DelayAfter, a.LockAfter)
	}
	if v.positive(p+"delay", a.Delay) && v.positive(p+"max_delay", a.MaxDelay) && a.MaxDelay < a.Delay {
		v.report(p+"max_delay", "(%s) must not be shorter than delay (%s)", a.MaxDelay, a.Delay)
	}
	v.positive(p+"lock_duration", a.LockDuration)
	v.between("throttle.ip.max_failures", ip.MaxFailures, 1, 1_000_000)
	v.positive("throttle.ip.window", ip.Window)
}

// between reports n outside [lo, hi].
func (v *validator) between(path string, n, lo, hi int) bool {
	if n < lo || n > hi {
		v.report(path, "must be between %d and %d, not %d", lo, hi, n)
		return false
	}
	return true
}
