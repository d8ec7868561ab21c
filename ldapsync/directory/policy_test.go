package directory

import (
	"context"
	"errors"
	"testing"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// boundedLDIF seeds "bounded", a policy of 12 to 16 bytes, and
// "unchecked", the same lengths without quality checking, each with a
// person under it.
const boundedLDIF = `dn: cn=bounded,ou=policies,dc=example,dc=org
objectClass: device
objectClass: pwdPolicy
cn: bounded
pwdAttribute: userPassword
pwdMinLength: 12
pwdMaxLength: 16
pwdCheckQuality: 1

dn: cn=unchecked,ou=policies,dc=example,dc=org
objectClass: device
objectClass: pwdPolicy
cn: unchecked
pwdAttribute: userPassword
pwdMinLength: 12
pwdMaxLength: 16

dn: uid=bounded,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: bounded
cn: Bounded Person
sn: Person
userPassword: Initial-pw-123
pwdPolicySubentry: cn=bounded,ou=policies,dc=example,dc=org

dn: uid=unchecked,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: unchecked
cn: Unchecked Person
sn: Person
userPassword: Initial-pw-123
pwdPolicySubentry: cn=unchecked,ou=policies,dc=example,dc=org
`

// TestPolicy reads policies as the writer, and checks against slapd what
// Policy documents: lengths in bytes, enforced only with pwdCheckQuality,
// passwordTooLong decoded although go-ldap drops it.
func TestPolicy(t *testing.T) {
	t.Parallel()
	s := testenv.StartSlapd(t, testenv.SlapdOptions{MinLength: 12, ExtraLDIF: boundedLDIF})
	w, _ := newWriter(t, s, nil)
	ctx := context.Background()
	reads := []struct {
		name, dn string
		want     Policy
		wantErr  error
	}{
		{"default", "cn=default,ou=policies," + s.BaseDN, Policy{MinLength: 12, CheckQuality: 1}, nil},
		{"with a maximum", "cn=bounded,ou=policies," + s.BaseDN, Policy{MinLength: 12, MaxLength: 16, CheckQuality: 1}, nil},
		{"without quality check", "cn=unchecked,ou=policies," + s.BaseDN, Policy{MinLength: 12, MaxLength: 16}, nil},
		{"no such entry", "cn=nope,ou=policies," + s.BaseDN, Policy{}, ErrNoSuchPolicy},
		{"not a policy", "ou=policies," + s.BaseDN, Policy{}, ErrNoSuchPolicy},
		{"not a DN", "policies", Policy{}, ErrNoSuchPolicy},
	}
	for _, tc := range reads {
		t.Run(tc.name, func(t *testing.T) {
			p, err := w.Policy(ctx, tc.dn)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !errors.Is(err, ErrRefused) {
					t.Fatalf("Policy = %+v, %v; want %v (ErrRefused)", p, err, tc.wantErr)
				}
				return
			}
			if err != nil || p != tc.want {
				t.Fatalf("Policy = %+v, %v; want %+v", p, err, tc.want)
			}
		})
	}

	writes := []struct {
		name, uid, pw string
		wantCode      int8 // 0: written
	}{
		{"12 bytes, 6 characters", "bounded", "éééééé", 0},
		{"10 bytes", "bounded", "ééééé", 6},
		{"17 bytes", "bounded", "Abcdefghijklmnopq", PasswordTooLong},
		{"16 bytes, 8 characters", "bounded", "éééééééé", 0},
		{"too short, but no quality check", "unchecked", "Court-1", 0},
		{"too long, but no quality check", "unchecked", "Abcdefghijklmnopqrstuvwxyz", 0},
	}
	for _, tc := range writes {
		t.Run(tc.name, func(t *testing.T) {
			err := w.SetPassword(ctx, tc.uid, tc.pw)
			if tc.wantCode == 0 && err != nil || tc.wantCode != 0 && policyCode(err) != tc.wantCode {
				t.Fatalf("SetPassword = %v, want ppolicy code %d", err, tc.wantCode)
			}
		})
	}
	var pe *PolicyError
	if err := w.SetPassword(ctx, "bounded", "Abcdefghijklmnopqrs"); !errors.As(err, &pe) || pe.Error() == "" ||
		!errors.Is(err, ErrRejectedByPolicy) {
		t.Fatalf("too long: %v", err)
	}

	s.Stop(t)
	if _, err := w.Policy(ctx, "cn=default,ou=policies,"+s.BaseDN); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Policy with slapd stopped: %v, want ErrUnavailable", err)
	}
}
