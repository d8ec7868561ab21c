package ldapauth

import (
	"context"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// FindByMail returns the one account whose mail attribute is mail
// (« Mot de passe perdu »). Nobody, or an ambiguous address, is found=false;
// err (wrapping ErrUnavailable) means the directory could not be asked.
// The address is escaped: a typed « * » matches nothing but itself.
func (d *Directory) FindByMail(ctx context.Context, mail string) (User, bool, error) {
	if !validLogin(mail) || !strings.Contains(mail, "@") {
		return User{}, false, nil
	}
	filter := "(&" + d.personFilter() + "(" + ldap.EscapeFilter(d.cfg.Attributes.Email) + "=" + ldap.EscapeFilter(mail) + "))"
	e, err := d.findOne(ctx, filter)
	if err != nil || e == nil {
		return User{}, false, err
	}
	u := d.userFrom(e)
	if u.Subject == "" || strings.Contains(u.Subject, ":") {
		return User{}, false, nil
	}
	return u, true, nil
}

// personFilter keeps lookups by mail to the kind of entries sign-in
// considers: the object class clause of the configured user filter when
// it has one, else any entry.
func (d *Directory) personFilter() string {
	f := d.cfg.UserFilter
	if i := strings.Index(f, "(objectClass="); i >= 0 {
		if j := strings.IndexByte(f[i:], ')'); j > 0 {
			return f[i : i+j+1]
		}
	}
	return "(objectClass=*)"
}
