// Package ldapauth checks passwords against an LDAP directory, read-only.
//
// A login is resolved to exactly one entry by a search on a long-lived
// connection bound as a read-only service account (the filter's {login} is
// escaped with ldap.EscapeFilter; more or fewer than one match is "not ok").
// The password is then verified by a simple bind as that entry's DN on a
// separate connection from a small pool that is only ever used for binds:
// each check starts with its own Bind, which replaces whatever identity the
// connection had, so a pooled connection never carries anything over. The
// service connection is never used for user binds.
//
// Authenticate is Find (login → Candidate, no bind) then Verify (the bind).
// Callers that throttle (idp/login) call the two apart, so that a locked
// out account is never tried against the directory. Verify answers the zero
// Result with a nil error for every refusal (unknown login, wrong password,
// locked account, ambiguous match) so that callers show one generic
// message; it returns an error wrapping ErrUnavailable only when the
// directory could not be asked (every URL down, timeout, busy,
// misconfigured service account). For an unknown login a bind against a
// DN that does not exist is still sent, so that timing tells little about
// whether an account exists.
//
// The ppolicy response control is reported (Result.State) only when the
// directory proved the password right: a grace login after expiry (the
// person may sign in), changeAfterReset and expiry without grace (the
// person must choose a new password). slapd answers "expired" only to the
// right password but "locked" to any password, so a locked account stays a
// plain refusal; idp/testenv's TestSlapdAccountStates pins this down.
//
// go-ldap has no context support: operations are bounded by Config.Timeout
// (dial timeout and conn.SetTimeout on every connection); a bind connection
// is closed when the caller's context ends.
package ldapauth
