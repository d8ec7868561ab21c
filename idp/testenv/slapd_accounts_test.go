package testenv

import (
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// TestSlapdAccountStates records what slapd 2.5's ppolicy answers to a bind
// in each seeded state, with the right and with a wrong password. The
// provider relies on this table: a state-specific answer (expired, grace,
// must change) comes only with the right password, while a locked account
// answers accountLocked whatever the password.
func TestSlapdAccountStates(t *testing.T) {
	t.Parallel()
	longAgo := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	person := func(uid string) User {
		return User{UID: uid, Password: "Right-Password-" + uid, Mail: uid + "@example.org", GivenName: "Test", Surname: uid}
	}
	s := StartSlapd(t, SlapdOptions{
		Policies: []Policy{
			{Name: "expiring", MaxAge: time.Hour},
			{Name: "grace", MaxAge: time.Hour, GraceLogins: 2},
			{Name: "mustchange", MustChange: true},
		},
		Accounts: []Account{
			{User: person("expired"), Policy: "expiring", PasswordChanged: longAgo},
			{User: person("recent"), Policy: "expiring", PasswordChanged: time.Now()},
			{User: person("grace"), Policy: "grace", PasswordChanged: longAgo},
			{User: person("reset"), Policy: "mustchange", MustChange: true},
			{User: person("locked"), Locked: true},
		},
	})
	const none = -1 // absent Error or Grace in the control
	tests := []struct {
		name, uid string
		right     bool
		wantOK    bool // bind succeeded (result 0); otherwise 49
		wantError int8
		wantGrace int64
	}{
		{"expired, wrong password", "expired", false, false, none, none},
		{"expired, right password", "expired", true, false, ldap.BeheraPasswordExpired, none},
		{"not yet expired", "recent", true, true, none, none},
		{"grace, wrong password", "grace", false, false, none, none},
		// Grace counts the logins left after this one.
		{"grace, first", "grace", true, true, none, 1},
		{"grace, last", "grace", true, true, none, 0},
		{"grace, used up", "grace", true, false, ldap.BeheraPasswordExpired, none},
		{"reset, wrong password", "reset", false, false, none, none},
		{"reset, right password", "reset", true, true, ldap.BeheraChangeAfterReset, none},
		{"locked, wrong password", "locked", false, false, ldap.BeheraAccountLocked, none},
		{"locked, right password", "locked", true, false, ldap.BeheraAccountLocked, none},
	}
	for _, tc := range tests { // in order: grace logins are used up one by one
		pw := "wrong-" + tc.uid
		if tc.right {
			pw = person(tc.uid).Password
		}
		res, err := dial(t, s).SimpleBind(ldap.NewSimpleBindRequest("uid="+tc.uid+","+s.PeopleDN, pw,
			[]ldap.Control{ldap.NewControlBeheraPasswordPolicy()}))
		if tc.wantOK != (err == nil) || (err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials)) {
			t.Errorf("%s: bind error %v, want success %v (else 49)", tc.name, err, tc.wantOK)
			continue
		}
		var pp *ldap.ControlBeheraPasswordPolicy
		if res != nil {
			pp, _ = ldap.FindControl(res.Controls, ldap.ControlTypeBeheraPasswordPolicy).(*ldap.ControlBeheraPasswordPolicy)
		}
		if pp == nil {
			t.Errorf("%s: no ppolicy control", tc.name)
			continue
		}
		if pp.Error != tc.wantError || pp.Grace != tc.wantGrace {
			t.Errorf("%s: control Error %d Grace %d, want %d and %d", tc.name, pp.Error, pp.Grace, tc.wantError, tc.wantGrace)
		}
	}
}
