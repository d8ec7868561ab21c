package throttle

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/redisbatch"
)

// Policy holds the numbers. Zero fields get the documented defaults.
type Policy struct {
	// DelayAfter failures of one counter within LockDuration start the
	// delays; default 5.
	DelayAfter int
	// Delay is the wait after the DelayAfter-th failure, doubled at each
	// further failure up to MaxDelay; defaults 1s and 1m.
	Delay, MaxDelay time.Duration
	// LockAfter failures of one counter within LockDuration (a sliding
	// window) lock it for LockDuration from the last of them; defaults 10
	// and 15m. A person's failures through all identifiers have the same
	// ceiling (see Keys).
	LockAfter    int
	LockDuration time.Duration
	// IPFailures failures from one client address within IPWindow block it
	// until the window ends; defaults 100 and 15m.
	IPFailures int
	IPWindow   time.Duration
}

// DefaultPolicy slows down guessing: delays after a few failures, a lock after ten.
func DefaultPolicy() Policy {
	return Policy{
		DelayAfter: 5, Delay: time.Second, MaxDelay: time.Minute,
		LockAfter: 10, LockDuration: 15 * time.Minute,
		IPFailures: 100, IPWindow: 15 * time.Minute,
	}
}

func (p Policy) withDefaults() Policy {
	d := DefaultPolicy()
	pick := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	pickD := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	pick(&p.DelayAfter, d.DelayAfter)
	pickD(&p.Delay, d.Delay)
	pickD(&p.MaxDelay, d.MaxDelay)
	pick(&p.LockAfter, d.LockAfter)
	pickD(&p.LockDuration, d.LockDuration)
	pick(&p.IPFailures, d.IPFailures)
	pickD(&p.IPWindow, d.IPWindow)
	return p
}

// Options configures a Limiter. Zero values get the documented defaults.
type Options struct {
	// Client is required: a single node, Sentinel or Cluster client.
	Client redis.UniversalClient
	// Prefix starts every key; default "idp:throttle:".
	Prefix string
	// Now is the clock of every decision; default time.Now.
	Now func() time.Time
	// Slack is added to the Redis TTLs, which only clean up; default 1m.
	Slack  time.Duration
	Policy Policy
	// Log gets what cannot be done off the request path; default
	// slog.Default().
	Log *slog.Logger
}

// Limiter counts failures. It is safe for concurrent use.
type Limiter struct {
	c       redis.UniversalClient
	prefix  string
	now     func() time.Time
	slack   time.Duration
	p       Policy
	log     *slog.Logger
	pending sync.WaitGroup // counts being taken back (takeBackLater)
}

// New applies defaults and returns a Limiter. It does not contact Redis.
func New(opts Options) *Limiter {
	if opts.Prefix == "" {
		opts.Prefix = "idp:throttle:"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Slack <= 0 {
		opts.Slack = time.Minute
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Limiter{c: opts.Client, prefix: opts.Prefix, now: opts.Now, slack: opts.Slack, p: opts.Policy.withDefaults(), log: opts.Log}
}

// Policy returns the effective policy (defaults applied).
func (l *Limiter) Policy() Policy { return l.p }

// Kind says what holds attempts back.
type Kind int

const (
	// None: nothing; attempts go ahead.
	None Kind = iota
	// Delay: the account must wait a little before the next attempt.
	Delay
	// Lock: the counter is locked (LockAfter failures in the window).
	Lock
	// Network: too many failures from the client's address.
	Network
)

func (k Kind) String() string {
	switch k {
	case Delay:
		return "delay"
	case Lock:
		return "lock"
	case Network:
		return "network"
	default:
		return "none"
	}
}

// Block is a hold on attempts until a time.
type Block struct {
	Kind  Kind
	Until time.Time // zero with None
}

// Decision answers Attempt.
type Decision struct {
	// Allowed: check the password now. The attempt is already counted as a
	// failure of its keys; call Failed when it was one (the address then
	// counts it too), Succeeded or Cancel when it was not.
	Allowed bool
	// Block: when refused, the hold in force; when allowed, the hold that
	// this attempt brings if it fails (None for the first failures).
	Block Block
	// Failures of the counter in the window, this attempt included when
	// allowed.
	Failures int
	// Capped: allowed, but the person's ceiling is reached: do not check
	// the password, answer as for an identifier nobody has. The attempt
	// still counted for the typed identifier, which therefore answers
	// exactly as an unknown one would.
	Capped bool

	counted []counted // what to take back or forget
	ip      string    // the client address's Redis key, for Failed
}

// counted is one failure counted in advance: its key, time and hold (ms).
type counted struct {
	key      string
	at, hold int64
}

// Keys name what one attempt is counted against.
//
// Counter is the typed identifier (IdentifierKey of its keyed hash, the
// same for a known and an unknown one): it alone decides the delays and
// locks a visitor sees, so locking « jdupont » says nothing about
// « jean.dupont@… », whether or not both are one person's.
//
// Account, when the directory knows the identifier, is the person
// (AccountKey): at most LockAfter failures per window through all their
// identifiers and spellings reach the directory. Past that ceiling the
// password is not checked and the answer is a plain wrong password, so
// the ceiling is invisible: it only stops an attacker from multiplying
// the guesses by typing the same account in several ways.
type Keys struct {
	Counter string
	Account string
}

// IdentifierKey names the counter of a typed identifier from its keyed,
// normalized hash (audit.Identifiers.Hash).
func IdentifierKey(hash string) string { return "id:" + hash }

// AccountKey names the ceiling of a person, by subject.
func AccountKey(subject string) string { return "sub:" + subject }

// DeviceKey names the counter of a browser the person signed in with
// before (a device cookie's id): it replaces the identifier's counter and
// the person's ceiling for attempts from that browser.
func DeviceKey(id string) string { return "dev:" + id }

// Attempt decides whether a password check for k may go ahead, and if so
// counts it as a failure of k in advance, so that attempts racing on one
// account cannot slip past its delays. The client address is not counted
// here: CheckNetwork looks at it before, and Failed counts it after a
// wrong password only, so that the successes of many people behind one
// address (a lycée, a town hall) in flight at once never add up to a
// block; racing guesses from one address can overshoot its limit by at
// most the number in flight, each of them still bound by its account's
// own count.
func (l *Limiter) Attempt(ctx context.Context, k Keys, ip netip.Addr) (Decision, error) {
	now := l.now()
	d := Decision{ip: l.ipKey(ip)}
	// Both counters in one round trip. The person's is counted even when
	// the identifier's then refuses; it is taken back at once (a refusal
	// is rare, and meanwhile the ceiling only errs on the strict side).
	keys := []string{l.key(k.Counter)}
	if k.Account != "" {
		keys = append(keys, l.key(k.Account))
	}
	cmds := make([]*redis.Cmd, len(keys))
	_, err := redisbatch.Pipelined(ctx, l.c, []*redis.Script{attemptAccount}, func(p redis.Pipeliner) {
		for i, key := range keys {
			delayAfter := l.p.DelayAfter
			if i == 1 {
				delayAfter = l.p.LockAfter // no delays on the ceiling: it only ever locks, silently
			}
			cmds[i] = attemptAccount.EvalSha(ctx, p, []string{key},
				now.UnixMilli(), delayAfter, l.p.Delay.Milliseconds(), l.p.MaxDelay.Milliseconds(),
				l.p.LockAfter, l.p.LockDuration.Milliseconds(), l.p.LockDuration.Milliseconds(), l.slack.Milliseconds())
		}
	})
	res := make([][]int64, len(keys))
	var taken []counted // what this call counted, to take back on failure
	for i, cmd := range cmds {
		r, cerr := cmd.Int64Slice()
		if cerr == nil && len(r) != 4 {
			cerr = fmt.Errorf("unexpected reply %v", r)
		}
		if cerr != nil {
			err = cmp.Or(err, cerr)
			continue
		}
		res[i] = r
		if r[0] == 1 {
			taken = append(taken, counted{key: keys[i], at: now.UnixMilli(), hold: r[2]})
		}
	}
	if err != nil {
		_ = l.Cancel(ctx, Decision{Allowed: true, counted: taken})
		return Decision{}, fmt.Errorf("throttle: count attempt: %w", err)
	}
	id := res[0]
	d.Failures = int(id[1])
	d.Block = l.block(id[3] == 1, id[2])
	if id[0] == 0 {
		l.takeBackLater(ctx, taken)
		return Decision{Block: d.Block, Failures: d.Failures}, nil
	}
	d.Allowed, d.counted = true, taken
	if len(res) == 2 && res[1][0] == 0 {
		d.Capped = true
	}
	return d, nil
}

// takeBackLater takes back, off the answer's path, what a refused
// attempt counted: the person's ceiling, counted alongside the identifier
// that then refused. Waiting for it would answer a held identifier of a
// real person one round trip later than an unknown one, which has no
// ceiling: a timing oracle on who has an account. Meanwhile the ceiling
// only errs on the strict side; if Redis fails, the count expires with
// its window.
func (l *Limiter) takeBackLater(ctx context.Context, taken []counted) {
	if len(taken) == 0 {
		return
	}
	l.pending.Go(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := l.Cancel(ctx, Decision{Allowed: true, counted: taken}); err != nil {
			l.log.WarnContext(ctx, "throttle: could not take back a refused attempt's count", "err", err)
		}
	})
}

// Wait waits for the counts being taken back off the answers' path.
func (l *Limiter) Wait() { l.pending.Wait() }

// Failed records that the allowed attempt d did not prove the password:
// the client address gets one failure more.
func (l *Limiter) Failed(ctx context.Context, d Decision) error {
	if !d.Allowed || d.ip == "" {
		return nil
	}
	err := countIP.Run(ctx, l.c, []string{d.ip},
		l.now().UnixMilli(), l.p.IPWindow.Milliseconds(), l.slack.Milliseconds()).Err()
	if err != nil {
		return fmt.Errorf("throttle: count address: %w", err)
	}
	return nil
}

// block names a hold until ms.
func (l *Limiter) block(locked bool, untilMS int64) Block {
	switch {
	case untilMS == 0:
		return Block{}
	case locked:
		return Block{Kind: Lock, Until: time.UnixMilli(untilMS)}
	default:
		return Block{Kind: Delay, Until: time.UnixMilli(untilMS)}
	}
}

// Forgets returns the Redis keys whose deletion is Succeeded(d): a caller
// that writes to the same Redis once the password proved right (the login's
// code and session) deletes them in its own round trip instead.
func (d Decision) Forgets() []string {
	if !d.Allowed {
		return nil
	}
	keys := make([]string, len(d.counted))
	for i, c := range d.counted {
		keys[i] = c.key
	}
	return keys
}

// Succeeded records that the allowed attempt d proved the password right:
// the failures of its identifier and person are forgotten.
func (l *Limiter) Succeeded(ctx context.Context, d Decision) error {
	keys := d.Forgets()
	if len(keys) == 0 {
		return nil
	}
	// One round trip; one key per DEL, so Cluster never sees a cross-slot call.
	_, err := l.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Del(ctx, k)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("throttle: reset account: %w", err)
	}
	return nil
}

// Cancel takes back the allowed attempt d, whose password could not be
// checked (directory unavailable): it was no failure.
func (l *Limiter) Cancel(ctx context.Context, d Decision) error {
	if !d.Allowed {
		return nil
	}
	for _, c := range d.counted {
		if err := refundAccount.Run(ctx, l.c, []string{c.key}, c.at, c.hold).Err(); err != nil {
			return fmt.Errorf("throttle: cancel account failure: %w", err)
		}
	}
	return nil
}

// Forget drops every failure of the named counters (IdentifierKey,
// AccountKey): a new password was written, so the guesses against the
// old one no longer matter and its owner must not wait.
func (l *Limiter) Forget(ctx context.Context, keys ...string) error {
	for _, k := range keys {
		if err := l.c.Del(ctx, l.key(k)).Err(); err != nil {
			return fmt.Errorf("throttle: forget: %w", err)
		}
	}
	return nil
}

// CheckNetwork reports whether ip is blocked, without counting anything:
// a cheap look before the directory is asked. In a ctx from
// PrefetchNetwork for ip, it answers from the read sent ahead.
func (l *Limiter) CheckNetwork(ctx context.Context, ip netip.Addr) (Block, error) {
	var read *redis.SliceCmd
	if pf, ok := ctx.Value(prefetchKey{}).(*prefetched); ok && pf.l == l && pf.ip == ip && pf.read != nil {
		read = pf.read
	} else {
		read = l.c.HMGet(ctx, l.ipKey(ip), "start", "n")
	}
	vals, err := read.Result()
	if err != nil {
		return Block{}, fmt.Errorf("throttle: read address: %w", err)
	}
	start, n := int64Of(vals[0]), int64Of(vals[1])
	end := start + l.p.IPWindow.Milliseconds()
	if start > 0 && l.now().UnixMilli() < end && n >= int64(l.p.IPFailures) {
		return Block{Kind: Network, Until: time.UnixMilli(end)}, nil
	}
	return Block{}, nil
}

// prefetched is CheckNetwork's read for ip, queued by PrefetchNetwork.
type prefetched struct {
	l    *Limiter
	ip   netip.Addr
	read *redis.SliceCmd // nil until a store read carried it
}

type prefetchKey struct{}

// PrefetchNetwork returns ctx in which CheckNetwork(ip) answers from a
// read that rides on the request's next store read (redisbatch.WithRider):
// the pending sign-in's, for a login POST. Nothing is counted: the answer
// is as fresh as that read, taken at the start of the same request.
func (l *Limiter) PrefetchNetwork(ctx context.Context, ip netip.Addr) context.Context {
	pf := &prefetched{l: l, ip: ip}
	ctx = context.WithValue(ctx, prefetchKey{}, pf)
	return redisbatch.WithRider(ctx, func(ctx context.Context, p redis.Pipeliner) {
		if pf.read == nil {
			pf.read = p.HMGet(ctx, l.ipKey(ip), "start", "n")
		}
	})
}

func int64Of(v any) int64 {
	s, _ := v.(string)
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

func (l *Limiter) key(name string) string {
	return l.prefix + "a:" + base64.RawURLEncoding.EncodeToString([]byte(name))
}

func (l *Limiter) ipKey(ip netip.Addr) string { return l.prefix + "ip:" + ClientNetwork(ip) }

// ClientNetwork names the client address as limits per address count it: an
// IPv4 address, or the /64 of an IPv6 one (one household or phone usually
// has a whole /64, and could otherwise rotate through it); "unknown" when
// there is none.
func ClientNetwork(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid():
		return "unknown"
	case ip.Is6():
		p, _ := ip.WithZone("").Prefix(64)
		return p.String()
	default:
		return ip.String()
	}
}
