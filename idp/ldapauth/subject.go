package ldapauth

import (
	"context"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// FindBySubject returns the one account whose subject attribute is sub
// (the notification after a password change: the address to write to is
// the directory's, read when the mail is sent). Nobody, or an ambiguous
// subject, is found=false; err (wrapping ErrUnavailable) means the
// directory could not be asked.
func (d *Directory) FindBySubject(ctx context.Context, sub string) (User, bool, error) {
	if sub == "" || len(sub) > maxLoginBytes || strings.Contains(sub, ":") {
		return User{}, false, nil
	}
	filter := "(&" + d.personFilter() + "(" + ldap.EscapeFilter(d.cfg.Attributes.Subject) + "=" + ldap.EscapeFilter(sub) + "))"
	e, err := d.findOne(ctx, filter)
	if err != nil || e == nil {
		return User{}, false, err
	}
	u := d.userFrom(e)
	if u.Subject != sub {
		return User{}, false, nil
	}
	return u, true, nil
}
