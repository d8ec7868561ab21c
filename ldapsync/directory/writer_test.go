package directory

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/ldapconn"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// youngLDIF seeds "young", whose policy forbids a change within an hour
// of the last one, made just now.
func youngLDIF(s string) string {
	return `dn: cn=young,ou=policies,dc=example,dc=org
objectClass: device
objectClass: pwdPolicy
cn: young
pwdAttribute: userPassword
pwdMinAge: 3600

dn: uid=young,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: young
cn: Young Person
sn: Person
mail: young@example.org
userPassword: ` + s + `
pwdPolicySubentry: cn=young,ou=policies,dc=example,dc=org
pwdChangedTime: ` + time.Now().UTC().Format("20060102150405Z") + `
`
}

const youngPassword = "Young-Password-2026"

// startSlapd starts slapd with a policy of 12 characters minimum and a
// history of 3.
func startSlapd(t *testing.T) *testenv.Slapd {
	t.Helper()
	return testenv.StartSlapd(t, testenv.SlapdOptions{MinLength: 12, InHistory: 3, ExtraLDIF: youngLDIF(youngPassword)})
}

func newWriter(t *testing.T, s *testenv.Slapd, edit func(*Config)) (*Writer, *testenv.Buffer) {
	t.Helper()
	cfg := Config{
		Config: ldapconn.Config{URLs: []string{s.URL}, BindDN: s.WriterDN, BindPassword: s.WriterPassword, Timeout: 2 * time.Second},
		BaseDN: s.BaseDN,
	}
	if edit != nil {
		edit(&cfg)
	}
	logs := &testenv.Buffer{}
	w, err := New(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return w, logs
}

func seeded(uid string) testenv.User {
	for _, u := range testenv.Users() {
		if u.UID == uid {
			return u
		}
	}
	panic("no seeded user " + uid)
}

func policyCode(err error) int8 {
	var pe *PolicyError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return -2
}

func TestSetPassword(t *testing.T) {
	t.Parallel()
	s := startSlapd(t)
	w, logs := newWriter(t, s, nil)
	ctx := context.Background()
	jd, pm, el := seeded("jdupont"), seeded("pmartin"), seeded("elefevre")

	tests := []struct {
		name, login, uid, password string
		wantErr                    error
		wantCode                   int8   // with ErrRejectedByPolicy
		stillValid                 string // password that must still work after a refusal
	}{
		{"by uid", "jdupont", "jdupont", "Nouveau-mot-de-passe-1", nil, 0, ""},
		{"by mail", pm.Mail, "pmartin", "Nouveau-mot-de-passe-2", nil, 0, ""},
		{"non-ASCII", "elefevre", "elefevre", "Été-à-Saint-Émilion-33", nil, 0, ""},
		{"too short", "elefevre", "elefevre", "Court-1", ErrRejectedByPolicy, ldap.BeheraPasswordTooShort, "Été-à-Saint-Émilion-33"},
		{"same as current", "elefevre", "elefevre", "Été-à-Saint-Émilion-33", ErrRejectedByPolicy, ldap.BeheraPasswordInHistory, "Été-à-Saint-Émilion-33"},
		{"second change", "jdupont", "jdupont", "Nouveau-mot-de-passe-3", nil, 0, ""},
		{"back to the first one", "jdupont", "jdupont", jd.Password, ErrRejectedByPolicy, ldap.BeheraPasswordInHistory, "Nouveau-mot-de-passe-3"},
		{"too young", "young", "young", "Another-Young-Password", ErrRejectedByPolicy, ldap.BeheraPasswordTooYoung, youngPassword},
		{"unknown login", "nobody", "", "Nouveau-mot-de-passe-4", ErrNoSuchUser, 0, ""},
		{"wildcard login", "*", "", "Nouveau-mot-de-passe-4", ErrNoSuchUser, 0, ""},
		{"filter injection", "jdupont)(uid=*", "", "Nouveau-mot-de-passe-4", ErrNoSuchUser, 0, ""},
		{"control character", "jdupont\n", "", "Nouveau-mot-de-passe-4", ErrNoSuchUser, 0, ""},
		{"empty login", "", "", "Nouveau-mot-de-passe-4", ErrNoSuchUser, 0, ""},
		{"empty password", "pmartin", "pmartin", "", ErrRefused, 0, "Nouveau-mot-de-passe-2"},
	}
	var secrets []string
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.password != "" {
				secrets = append(secrets, tc.password)
			}
			err := w.SetPassword(ctx, tc.login, tc.password)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("SetPassword: %v", err)
				}
				if !s.Binds(t, tc.uid, tc.password) {
					t.Fatal("the new password does not bind")
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("SetPassword = %v, want %v", err, tc.wantErr)
			}
			if tc.wantCode != 0 && policyCode(err) != tc.wantCode {
				t.Errorf("ppolicy code = %d, want %d (%v)", policyCode(err), tc.wantCode, err)
			}
			if tc.stillValid != "" && !s.Binds(t, tc.uid, tc.stillValid) {
				t.Error("the password in place no longer binds")
			}
		})
	}
	for _, u := range []testenv.User{jd, pm, el} {
		if s.Binds(t, u.UID, u.Password) {
			t.Errorf("the old password of %s still binds", u.UID)
		}
	}
	for _, pw := range append(secrets, s.WriterPassword, jd.Password) {
		if strings.Contains(logs.String(), pw) {
			t.Errorf("logs contain the password %q", pw)
		}
	}
}

func TestLookupAndChanged(t *testing.T) {
	t.Parallel()
	s := startSlapd(t)
	w, _ := newWriter(t, s, nil)
	ctx := context.Background()

	e, err := w.Lookup(ctx, "jeanne.dupont@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if e.DN != "uid=jdupont,"+s.PeopleDN || e.Subject != s.EntryUUID(t, "jdupont") || e.Mark != "pwdChangedTime=" {
		t.Fatalf("Lookup = %+v", e)
	}
	if changed, err := w.Changed(ctx, e); err != nil || changed {
		t.Fatalf("Changed before any write = %v, %v", changed, err)
	}
	if err := w.Write(ctx, e, "Nouveau-mot-de-passe-1"); err != nil {
		t.Fatal(err)
	}
	if changed, err := w.Changed(ctx, e); err != nil || !changed {
		t.Fatalf("Changed after the write = %v, %v", changed, err)
	}
	after, _ := w.Lookup(ctx, "jdupont")
	if !strings.HasPrefix(after.Mark, "pwdChangedTime=2") {
		t.Errorf("mark after a change = %q", after.Mark)
	}
	if _, err := w.Changed(ctx, Entry{DN: "uid=gone," + s.PeopleDN, Mark: e.Mark}); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("Changed of a missing entry: %v", err)
	}
	if err := w.Write(ctx, Entry{DN: "uid=gone," + s.PeopleDN, Mark: e.Mark}, "Nouveau-mot-de-passe-2"); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("Write to a missing entry: %v", err)
	}
}
