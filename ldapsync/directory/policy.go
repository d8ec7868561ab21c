package directory

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// Policy is what a ppolicy entry (objectClass pwdPolicy) says of a new
// password's content. 0 means no rule, which is also what an absent
// attribute says.
//
// As OpenLDAP 2.5 enforces them (checked against slapd 2.5.13):
// pwdMinLength and pwdMaxLength count bytes of UTF-8, not characters, and
// are only checked when pwdCheckQuality is 1 or 2; a password longer than
// pwdMaxLength is refused with ppolicy error 9, passwordTooLong. (Before
// 2.5 there is no pwdMaxLength: it reads as 0.)
type Policy struct {
	MinLength    int // pwdMinLength
	MaxLength    int // pwdMaxLength
	CheckQuality int // pwdCheckQuality: 0 no check, 1 check if possible, 2 check or refuse
}

// ErrNoSuchPolicy comes with ErrRefused from Policy: the DN names no
// entry the writer can read, or an entry that is not a pwdPolicy.
var ErrNoSuchPolicy = errors.New("directory: no such password policy entry")

// Policy reads the ppolicy entry dn as the writer account. Errors:
// ErrUnavailable (temporary), ErrRefused with ErrNoSuchPolicy (no such
// entry, not readable by the writer, or not a pwdPolicy), ErrRefused (a
// malformed value, or the directory refused the search).
func (w *Writer) Policy(ctx context.Context, dn string) (Policy, error) {
	if _, err := ldap.ParseDN(dn); err != nil || dn == "" {
		return Policy{}, fmt.Errorf("%w: %w: %q is not a DN", ErrRefused, ErrNoSuchPolicy, dn)
	}
	entries, err := w.search(ctx, dn, ldap.ScopeBaseObject, "(objectClass=*)",
		[]string{"objectClass", "pwdMinLength", "pwdMaxLength", "pwdCheckQuality"})
	if err != nil {
		return Policy{}, err
	}
	// slapd answers "no such object" for an entry the writer may not read.
	if len(entries) != 1 {
		return Policy{}, fmt.Errorf("%w: %w: %s (missing, or not readable by the writer)", ErrRefused, ErrNoSuchPolicy, dn)
	}
	e := entries[0]
	if !hasValueFold(e.GetAttributeValues("objectClass"), "pwdPolicy") {
		return Policy{}, fmt.Errorf("%w: %w: %s is not a pwdPolicy entry", ErrRefused, ErrNoSuchPolicy, dn)
	}
	var p Policy
	var errs []error
	for _, f := range []struct {
		attr string
		dst  *int
	}{{"pwdMinLength", &p.MinLength}, {"pwdMaxLength", &p.MaxLength}, {"pwdCheckQuality", &p.CheckQuality}} {
		v := e.GetEqualFoldAttributeValue(f.attr)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("%s is %q, not a whole number", f.attr, v))
			continue
		}
		*f.dst = n
	}
	if err := errors.Join(errs...); err != nil {
		return Policy{}, fmt.Errorf("%w: password policy %s: %w", ErrRefused, dn, err)
	}
	return p, nil
}

func hasValueFold(values []string, want string) bool {
	for _, v := range values {
		if strings.EqualFold(v, want) {
			return true
		}
	}
	return false
}
