package ldapauth

import (
	"context"
	"strings"
	"testing"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

func TestFindByMail(t *testing.T) {
	s := testenv.StartSlapd(t, testenv.SlapdOptions{})
	d, _ := newDirectory(t, s, nil)
	u := testenv.Users()[0]
	cases := []struct {
		name, mail string
		found      bool
	}{
		{"exact", u.Mail, true},
		{"other case", strings.ToUpper(u.Mail), true},
		{"uid is not a mail", u.UID, false},
		{"unknown", "personne@example.org", false},
		{"wildcard", "*", false},
		{"wildcard domain", "*@example.org", false},
		{"filter injection", "*)(mail=*", false},
		{"or injection", u.Mail + ")(|(mail=*", false},
		{"NUL", u.Mail + "\x00", false},
		{"CR LF", u.Mail + "\r\n", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, found, err := d.FindByMail(context.Background(), c.mail)
			if err != nil {
				t.Fatal(err)
			}
			if found != c.found {
				t.Fatalf("found = %v, want %v", found, c.found)
			}
			if found && (got.Email != u.Mail || got.Subject != s.EntryUUID(t, u.UID)) {
				t.Fatalf("got %+v", got)
			}
		})
	}
	s.Stop(t)
	if _, _, err := d.FindByMail(context.Background(), u.Mail); err == nil {
		t.Fatal("no error with the directory down")
	}
}
