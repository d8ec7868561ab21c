package testenv

import (
	"fmt"
	"strings"
	"time"
)

// Policy is an extra password policy, cn=<Name>,ou=policies,<base>, for
// the Accounts that name it. Lockout follows SlapdOptions.MaxFailure, as in
// the default policy.
type Policy struct {
	Name string
	// MaxAge is pwdMaxAge, rounded down to seconds: a password older than
	// this is expired. Zero: passwords never expire.
	MaxAge time.Duration
	// GraceLogins is pwdGraceAuthNLimit: binds still accepted after expiry.
	GraceLogins int
	// MustChange is pwdMustChange, as SlapdOptions.MustChange.
	MustChange bool
}

// Account is an extra person seeded in a given password-policy state. The
// state attributes are operational ones, which only slapadd can write as
// given; that is why they are seeded rather than set by a test later.
type Account struct {
	User
	// Policy names one of SlapdOptions.Policies; "" is the default policy.
	Policy string
	// PasswordChanged is pwdChangedTime; zero leaves it unset (the password
	// then never expires).
	PasswordChanged time.Time
	// MustChange sets pwdReset: the password was set by an administrator
	// and the directory asks for a new one at the next bind
	// (changeAfterReset). slapd honours it only under a policy with
	// pwdMustChange (SlapdOptions.MustChange or Policy.MustChange).
	MustChange bool
	// Locked sets pwdAccountLockedTime to 000001010000Z: locked until an
	// administrator unlocks it, whatever the password.
	Locked bool
}

// policyEntry appends the pwdPolicy entry p under ou=policies.
func (s *Slapd) policyEntry(w *ldifWriter, p Policy, opts SlapdOptions) {
	attrs := []string{
		"objectClass", "device", "objectClass", "pwdPolicy", "cn", p.Name,
		"pwdAttribute", "userPassword",
		"pwdLockout", "TRUE",
		"pwdMaxFailure", fmt.Sprint(opts.MaxFailure),
		"pwdFailureCountInterval", "600",
		"pwdLockoutDuration", "900",
		"pwdAllowUserChange", "TRUE",
		"pwdSafeModify", "FALSE",
		"pwdMustChange", strings.ToUpper(fmt.Sprint(p.MustChange)),
	}
	if secs := int64(p.MaxAge / time.Second); secs > 0 {
		attrs = append(attrs, "pwdMaxAge", fmt.Sprint(secs))
	}
	if p.GraceLogins > 0 {
		attrs = append(attrs, "pwdGraceAuthNLimit", fmt.Sprint(p.GraceLogins))
	}
	w.entry("cn="+p.Name+",ou=policies,"+s.BaseDN, attrs...)
}

// accountEntry appends the person a, with its state attributes.
func (s *Slapd) accountEntry(w *ldifWriter, a Account) {
	attrs := []string{
		"objectClass", "inetOrgPerson",
		"uid", a.UID, "cn", a.CN(), "givenName", a.GivenName, "sn", a.Surname,
		"mail", a.Mail, "userPassword", ssha(a.Password),
	}
	if a.Policy != "" {
		attrs = append(attrs, "pwdPolicySubentry", "cn="+a.Policy+",ou=policies,"+s.BaseDN)
	}
	if !a.PasswordChanged.IsZero() {
		attrs = append(attrs, "pwdChangedTime", a.PasswordChanged.UTC().Format("20060102150405Z"))
	}
	if a.MustChange {
		attrs = append(attrs, "pwdReset", "TRUE")
	}
	if a.Locked {
		attrs = append(attrs, "pwdAccountLockedTime", "000001010000Z")
	}
	w.entry("uid="+a.UID+","+s.PeopleDN, attrs...)
}
