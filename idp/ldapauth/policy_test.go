package ldapauth

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestVerifyPasswordStates: the directory's state reaches the caller only
// with the right password; a wrong password and a locked account give the
// zero Result, exactly like an unknown login.
func TestVerifyPasswordStates(t *testing.T) {
	t.Parallel()
	longAgo := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	person := func(uid string) testenv.User {
		return testenv.User{UID: uid, Password: "Right-Password-" + uid, Mail: uid + "@example.org", GivenName: "Test", Surname: uid}
	}
	s := testenv.StartSlapd(t, testenv.SlapdOptions{
		Policies: []testenv.Policy{
			{Name: "expiring", MaxAge: time.Hour},
			{Name: "grace", MaxAge: time.Hour, GraceLogins: 2},
			{Name: "mustchange", MustChange: true},
		},
		Accounts: []testenv.Account{
			{User: person("expired"), Policy: "expiring", PasswordChanged: longAgo},
			{User: person("grace"), Policy: "grace", PasswordChanged: longAgo},
			{User: person("reset"), Policy: "mustchange", MustChange: true},
			{User: person("locked"), Locked: true},
		},
	})
	d, logs := newDirectory(t, s, nil)
	tests := []struct {
		name, login string
		right       bool
		want        Result // User is checked apart: set iff the password was proved right
	}{
		{"expired, wrong", "expired", false, Result{}},
		{"expired, right", "expired", true, Result{State: StateExpired}},
		{"grace, wrong", "grace", false, Result{}},
		{"grace, first", "grace", true, Result{OK: true, State: StateGrace, GraceLogins: 1}},
		{"grace, last", "grace", true, Result{OK: true, State: StateGrace, GraceLogins: 0}},
		{"grace, used up", "grace", true, Result{State: StateExpired}},
		{"reset, wrong", "reset", false, Result{}},
		{"reset, right", "reset", true, Result{State: StateMustChange}},
		{"locked, wrong", "locked", false, Result{}},
		{"locked, right", "locked", true, Result{}},
		{"unknown", "nobody", true, Result{}},
		{"ordinary account, right", "jdupont", true, Result{OK: true}},
	}
	for _, tc := range tests { // in order: grace logins are used up
		pw := "Wrong-Password-1"
		if tc.right {
			pw = person(tc.login).Password
			if tc.login == "jdupont" {
				pw = user("jdupont").Password
			}
		}
		res, err := d.Authenticate(context.Background(), tc.login, pw)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if res.PasswordRight() != (res.User.Username == tc.login) {
			t.Errorf("%s: user %+v with PasswordRight %v", tc.name, res.User, res.PasswordRight())
		}
		res.User = User{}
		if res != tc.want {
			t.Errorf("%s: result %+v, want %+v", tc.name, res, tc.want)
		}
	}
	for _, u := range []string{"expired", "grace", "reset", "locked"} {
		if strings.Contains(logs.String(), person(u).Password) {
			t.Errorf("the password of %s is in the logs", u)
		}
	}
}

// TestFindThenVerify: Find names the entry without a bind, so a caller can
// throttle first; Verify of nobody still binds and refuses.
func TestFindThenVerify(t *testing.T) {
	t.Parallel()
	s := testenv.StartSlapd(t, testenv.SlapdOptions{})
	d, _ := newDirectory(t, s, nil)
	ctx := context.Background()
	jd := user("jdupont")
	tests := []struct {
		login     string
		wantFound bool
	}{
		{"jdupont", true}, {jd.Mail, true}, {"nobody", false}, {"*", false}, {"jdupont\n", false}, {"", false},
	}
	for _, tc := range tests {
		c, err := d.Find(ctx, tc.login)
		if err != nil {
			t.Fatalf("Find(%q): %v", tc.login, err)
		}
		if c.Found() != tc.wantFound {
			t.Errorf("Find(%q).Found() = %v", tc.login, c.Found())
		}
		if tc.wantFound && c.User.Subject != s.EntryUUID(t, "jdupont") {
			t.Errorf("Find(%q) subject %q", tc.login, c.User.Subject)
		}
		res, err := d.Verify(ctx, c, jd.Password)
		if err != nil || res.OK != tc.wantFound {
			t.Errorf("Verify(%q): %+v %v", tc.login, res, err)
		}
	}
	if res, err := d.Verify(ctx, Candidate{}, jd.Password); err != nil || res != (Result{}) {
		t.Errorf("Verify(nobody) = %+v %v", res, err)
	}
}
