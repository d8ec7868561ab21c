package testenv

import (
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

func dial(t *testing.T, s *Slapd) *ldap.Conn {
	t.Helper()
	c, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatalf("dial %s: %v", s.URL, err)
	}
	c.SetTimeout(5 * time.Second)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestSlapd(t *testing.T) {
	t.Parallel()
	s := StartSlapd(t, SlapdOptions{})

	t.Run("binds", func(t *testing.T) {
		tests := []struct {
			name, dn, password string
			wantCode           uint16 // 0 = success
		}{
			{"admin", s.AdminDN, s.AdminPassword, 0},
			{"reader", s.ReaderDN, s.ReaderPassword, 0},
			{"writer", s.WriterDN, s.WriterPassword, 0},
			{"reader wrong password", s.ReaderDN, "nope", ldap.LDAPResultInvalidCredentials},
			{"user wrong password", "uid=jdupont," + s.PeopleDN, "Correct-Horse-43", ldap.LDAPResultInvalidCredentials},
			{"unknown user", "uid=nobody," + s.PeopleDN, "x", ldap.LDAPResultInvalidCredentials},
		}
		for _, u := range Users() {
			tests = append(tests, struct {
				name, dn, password string
				wantCode           uint16
			}{"user " + u.UID, "uid=" + u.UID + "," + s.PeopleDN, u.Password, 0})
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				res, err := dial(t, s).SimpleBind(ldap.NewSimpleBindRequest(tc.dn, tc.password,
					[]ldap.Control{ldap.NewControlBeheraPasswordPolicy()}))
				if tc.wantCode == 0 {
					if err != nil {
						t.Fatalf("bind: %v", err)
					}
				} else if !ldap.IsErrorWithCode(err, tc.wantCode) {
					t.Fatalf("bind error = %v, want code %d", err, tc.wantCode)
				}
				// The overlay answers with its control when it governs the
				// entry (people and service accounts, not the rootdn).
				if strings.HasPrefix(tc.name, "user ") && res != nil {
					if ldap.FindControl(res.Controls, ldap.ControlTypeBeheraPasswordPolicy) == nil {
						t.Errorf("no ppolicy control in %v", res.Controls)
					}
				}
			})
		}
	})

	t.Run("Binds", func(t *testing.T) {
		u := Users()[0]
		if !s.Binds(t, u.UID, u.Password) {
			t.Error("the right password does not bind")
		}
		if s.Binds(t, u.UID, u.Password+"x") || s.Binds(t, "nobody", u.Password) {
			t.Error("a wrong password or an unknown uid binds")
		}
	})

	t.Run("reader sees entryUUID but not userPassword", func(t *testing.T) {
		c := dial(t, s)
		if err := c.Bind(s.ReaderDN, s.ReaderPassword); err != nil {
			t.Fatal(err)
		}
		res, err := c.Search(ldap.NewSearchRequest(s.PeopleDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
			0, 5, false, "(uid=jdupont)", []string{"entryUUID", "mail", "userPassword"}, nil))
		if err != nil || len(res.Entries) != 1 {
			t.Fatalf("search: %v, %v", res, err)
		}
		e := res.Entries[0]
		if got, want := e.GetAttributeValue("entryUUID"), s.EntryUUID(t, "jdupont"); got != want || got == "" {
			t.Errorf("entryUUID = %q, want %q", got, want)
		}
		if e.GetAttributeValue("userPassword") != "" {
			t.Error("reader can read userPassword")
		}
	})

	t.Run("anonymous cannot search", func(t *testing.T) {
		res, err := dial(t, s).Search(ldap.NewSearchRequest(s.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
			0, 5, false, "(objectClass=*)", nil, nil))
		if err == nil && len(res.Entries) > 0 {
			t.Errorf("anonymous search returned %d entries", len(res.Entries))
		}
	})

	t.Run("writer sets a hashed password", func(t *testing.T) {
		c := dial(t, s)
		if err := c.Bind(s.WriterDN, s.WriterPassword); err != nil {
			t.Fatal(err)
		}
		dn := "uid=pmartin," + s.PeopleDN
		if _, err := c.PasswordModify(ldap.NewPasswordModifyRequest(dn, "", "Nouveau-Mot-de-passe-8")); err != nil {
			t.Fatalf("password modify: %v", err)
		}
		if err := dial(t, s).Bind(dn, "Nouveau-Mot-de-passe-8"); err != nil {
			t.Fatalf("bind with new password: %v", err)
		}
		if pw := readAttr(t, s, s.AdminDN, s.AdminPassword, dn, "userPassword"); !strings.HasPrefix(pw, "{SSHA}") {
			t.Errorf("stored password is not {SSHA}: %.6q...", pw)
		}
		if readAttr(t, s, s.ReaderDN, s.ReaderPassword, dn, "pwdChangedTime") == "" {
			t.Error("reader cannot see pwdChangedTime")
		}
	})
}

func TestSlapdStopStart(t *testing.T) {
	t.Parallel()
	s := StartSlapd(t, SlapdOptions{})
	before := s.EntryUUID(t, "jdupont")
	s.Stop(t)
	if c, err := ldap.DialURL(s.URL); err == nil {
		c.Close()
		t.Fatal("dial succeeded after Stop")
	}
	s.Start(t)
	u := Users()[0]
	if err := dial(t, s).Bind("uid="+u.UID+","+s.PeopleDN, u.Password); err != nil {
		t.Fatalf("bind after Start: %v", err)
	}
	if after := s.EntryUUID(t, "jdupont"); after != before {
		t.Errorf("entryUUID changed across restart: %s -> %s", before, after)
	}
}

func TestSlapdLockout(t *testing.T) {
	t.Parallel()
	s := StartSlapd(t, SlapdOptions{MaxFailure: 2})
	dn := "uid=jdupont," + s.PeopleDN
	for range 2 {
		if err := dial(t, s).Bind(dn, "wrong"); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	res, err := dial(t, s).SimpleBind(ldap.NewSimpleBindRequest(dn, Users()[0].Password,
		[]ldap.Control{ldap.NewControlBeheraPasswordPolicy()}))
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		t.Fatalf("bind of locked account: %v", err)
	}
	pp, _ := ldap.FindControl(res.Controls, ldap.ControlTypeBeheraPasswordPolicy).(*ldap.ControlBeheraPasswordPolicy)
	if pp == nil || pp.Error != ldap.BeheraAccountLocked {
		t.Errorf("ppolicy control = %+v, want accountLocked", pp)
	}
	if readAttr(t, s, s.ReaderDN, s.ReaderPassword, dn, "pwdAccountLockedTime") == "" {
		t.Error("reader cannot see pwdAccountLockedTime")
	}

	// Service accounts have their own policy without lockout.
	for range 3 {
		_ = dial(t, s).Bind(s.ReaderDN, "wrong")
	}
	if err := dial(t, s).Bind(s.ReaderDN, s.ReaderPassword); err != nil {
		t.Errorf("reader locked out: %v", err)
	}
}

// readAttr reads one attribute of dn, bound as bindDN.
func readAttr(t *testing.T, s *Slapd, bindDN, password, dn, attr string) string {
	t.Helper()
	c := dial(t, s)
	if err := c.Bind(bindDN, password); err != nil {
		t.Fatal(err)
	}
	res, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		1, 5, false, "(objectClass=*)", []string{attr}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("read %s of %s: %v", attr, dn, err)
	}
	return res.Entries[0].GetAttributeValue(attr)
}
