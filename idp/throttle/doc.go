// Package throttle slows down online password guessing (SEC-31): it counts
// failed sign-ins per account and per client address in Redis and says
// "go ahead" or "not before T". It never sleeps: a refusal carries the time
// from which the next attempt will be accepted, and the caller answers at
// once, so an attacker cannot tie up the server's goroutines.
//
// Per account (the caller names it: the person's stable subject when the
// directory knows the login, else a keyed hash of the typed identifier, so
// unknown identifiers are counted and locked exactly like real ones):
//
//	failures 1 … DelayAfter-1   nothing
//	failure DelayAfter          the next attempt waits Delay (1 s)
//	each further failure        twice as long, at most MaxDelay (2 s, 4 s, 8 s…)
//	failure LockAfter           locked for LockDuration (15 min)
//	after the lock              each new failure locks again, until a success
//	a success                   forgets everything
//	no failure for ForgetAfter  forgets everything
//
// An attempt that arrives while the account waits or is locked is refused
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
//	a:<b64url(account)>   hash n (failures), last, until (ms) and the previous
//	                      values (pn, plast, puntil) for Cancel
//	                      TTL max(ForgetAfter, until−now) + Slack
//	ip:<address or /64>   hash start (ms), n                TTL window end + Slack
//
// Expiry is logical, as in idp/store: every decision compares times with
// Options.Now, which tests move instead of sleeping; the Redis TTL only
// cleans up.
package throttle
