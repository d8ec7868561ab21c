// Package devdir is the demo directory of dev mode: a handful of accounts
// read from YAML, behind the same interface as the LDAP directory.
package devdir

import (
	"context"
	"crypto/subtle"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
	"github.com/region-nouvelle-aquitaine/idp/ldapsync/directory"
)

// Account is one demo person.
type Account struct {
	UID        string `yaml:"uid"`
	Password   string `yaml:"password"`
	Mail       string `yaml:"mail"`
	GivenName  string `yaml:"given_name"`
	FamilyName string `yaml:"family_name"`
	Subject    string `yaml:"subject"`
}

// Directory is an in-memory directory.
type Directory struct {
	mu       sync.RWMutex
	accounts []Account
	changes  map[string]int // password changes per uid, the Writer's mark
}

// Parse reads the demo directory file.
func Parse(data []byte) (*Directory, error) {
	var f struct {
		Users []Account `yaml:"users"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("demo directory: %w", err)
	}
	for i, a := range f.Users {
		if a.UID == "" || a.Password == "" || a.Subject == "" || strings.Contains(a.Subject, ":") {
			return nil, fmt.Errorf("demo directory: user %d needs uid, password and a subject without ':'", i+1)
		}
	}
	return &Directory{accounts: f.Users}, nil
}

// Accounts lists the demo accounts (for the start-up banner).
func (d *Directory) Accounts() []Account {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return slices.Clone(d.accounts)
}

// Find finds the account by uid or mail.
func (d *Directory) Find(_ context.Context, login string) (ldapauth.Candidate, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, a := range d.accounts {
		if login != a.UID && !strings.EqualFold(login, a.Mail) {
			continue
		}
		return ldapauth.Candidate{User: ldapauth.User{
			DN:         "uid=" + a.UID + ",ou=demo",
			Subject:    a.Subject,
			Email:      a.Mail,
			Name:       strings.TrimSpace(a.GivenName + " " + a.FamilyName),
			GivenName:  a.GivenName,
			FamilyName: a.FamilyName,
			Username:   a.UID,
		}}, nil
	}
	return ldapauth.Candidate{}, nil
}

// Verify compares password with the account's; demo accounts have no
// password policy, so a right password is always OK.
func (d *Directory) Verify(_ context.Context, c ldapauth.Candidate, password string) (ldapauth.Result, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, a := range d.accounts {
		if c.Found() && a.UID == c.User.Username && password != "" &&
			subtle.ConstantTimeCompare([]byte(password), []byte(a.Password)) == 1 {
			return ldapauth.Result{OK: true, User: c.User}, nil
		}
	}
	return ldapauth.Result{}, nil
}

// FindByMail finds a demo account by its address (« Mot de passe perdu »).
func (d *Directory) FindByMail(_ context.Context, mail string) (ldapauth.User, bool, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, a := range d.accounts {
		if strings.EqualFold(mail, a.Mail) {
			return ldapauth.User{
				DN: "uid=" + a.UID + ",ou=demo", Subject: a.Subject, Email: a.Mail,
				Name: strings.TrimSpace(a.GivenName + " " + a.FamilyName), GivenName: a.GivenName,
				FamilyName: a.FamilyName, Username: a.UID,
			}, true, nil
		}
	}
	return ldapauth.User{}, false, nil
}

// FindBySubject finds a demo account by its subject (the notification
// after a password change).
func (d *Directory) FindBySubject(_ context.Context, sub string) (ldapauth.User, bool, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, a := range d.accounts {
		if a.Subject == sub {
			return ldapauth.User{
				DN: "uid=" + a.UID + ",ou=demo", Subject: a.Subject, Email: a.Mail,
				Name: strings.TrimSpace(a.GivenName + " " + a.FamilyName), GivenName: a.GivenName,
				FamilyName: a.FamilyName, Username: a.UID,
			}, true, nil
		}
	}
	return ldapauth.User{}, false, nil
}

// The in-process ldapsync of dev mode writes new passwords here
// (ldapsync.Writer).

func (d *Directory) find(login string) (int, bool) {
	for i, a := range d.accounts {
		if login == a.UID || strings.EqualFold(login, a.Mail) {
			return i, true
		}
	}
	return 0, false
}

// Lookup finds the account the job names.
func (d *Directory) Lookup(_ context.Context, login string) (directory.Entry, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	i, ok := d.find(login)
	if !ok {
		return directory.Entry{}, directory.ErrNoSuchUser
	}
	a := d.accounts[i]
	return directory.Entry{DN: "uid=" + a.UID + ",ou=demo", Subject: a.Subject, Mark: strconv.Itoa(d.changes[a.UID])}, nil
}

// Write sets the account's password; the demo directory has no policy.
func (d *Directory) Write(_ context.Context, e directory.Entry, pw string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, a := range d.accounts {
		if a.Subject == e.Subject {
			d.accounts[i].Password = pw
			if d.changes == nil {
				d.changes = map[string]int{}
			}
			d.changes[a.UID]++
			return nil
		}
	}
	return directory.ErrNoSuchUser
}

// Changed reports whether the password changed since e was read.
func (d *Directory) Changed(_ context.Context, e directory.Entry) (bool, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, a := range d.accounts {
		if a.Subject == e.Subject {
			return strconv.Itoa(d.changes[a.UID]) != e.Mark, nil
		}
	}
	return false, directory.ErrNoSuchUser
}
