// Package throttle slows down online password guessing: it counts
// failed sign-ins per account and per client address in Redis and says
// "go ahead" or "not before T". It never sleeps: a refusal carries the time
// from which the next attempt will be accepted, and the caller answers at
// once, so an attacker cannot tie up the server's goroutines.
//
// Per counter (the caller names it, see Keys: a keyed hash of the typed
// identifier, the same for known and unknown ones), failures are counted
// over a sliding window of LockDuration:
//
//	failures 1 … DelayAfter-1 in the window   nothing
//	failure DelayAfter                        the next attempt waits Delay (1 s)
//	each further failure                      twice as long, at most MaxDelay
//	failure LockAfter in the window           locked for LockDuration (15 min)
//	a success, or a new password (Forget)     forgets everything
//
// Failures older than the window no longer count, so after a lock the
// count starts again: a trickle of failures never renews it, and keeping
// a counter locked costs LockAfter fresh failures per LockDuration. Each
// person also has a silent ceiling of LockAfter failures per window across
// identifiers (Keys.Account): past it the password is not checked
// (Decision.Capped) but the visible counter behaves as for anyone.
//
// An attempt that arrives while the counter waits or is locked is refused
// without being counted, and without a password check: a locked account is
// never tried against the directory, so the directory's own lockout
// (ppolicy pwdMaxFailure, which must be above LockAfter) never strikes
// first.
//
// Per client address (IPv4 address, or IPv6 /64): only failures count, and
// the threshold is high (IPFailures per IPWindow, 100 per 15 min), so a
// lycée behind one address is not punished for its pupils' typos; past it,
// every attempt from that address is refused until the window ends.
//
// Attempt counts the attempt as a failure before the password is checked,
// in one Lua script per key, so parallel attempts cannot all slip past a
// limit that none of them has reached yet; Succeeded then forgets the
// account's failures and takes back the address's, and Cancel takes both
// back when the password could not be checked at all.
//
// Keys (Prefix defaults to "idp:throttle:"; one key per script call, so it
// works on Redis Cluster):
//
//	a:<b64url(counter)>   hash f (failure times in the window, ms), until,
//	                      lock, and puntil, plock for Cancel
//	                      TTL max(LockDuration, until−now) + Slack
//	ip:<address or /64>   hash start (ms), n                TTL window end + Slack
//
// Expiry is logical, as in idp/store: every decision compares times with
// Options.Now, which tests move instead of sleeping; the Redis TTL only
// cleans up.
package throttle
