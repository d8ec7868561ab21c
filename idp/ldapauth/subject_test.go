package ldapauth

import (
	"context"
	"strings"
	"testing"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

func TestFindBySubject(t *testing.T) {
	s := testenv.StartSlapd(t, testenv.SlapdOptions{})
	d, _ := newDirectory(t, s, nil)
	u := testenv.Users()[0]
	sub := s.EntryUUID(t, u.UID)
	cases := []struct {
		name, sub string
		found     bool
	}{
		{"exact", sub, true},
		{"other case", strings.ToUpper(sub), false}, // found by the directory, but not the same subject
		{"uid is not a subject", u.UID, false},
		{"unknown", "00000000-0000-0000-0000-000000000000", false},
		{"empty", "", false},
		{"wildcard", "*", false},
		{"filter injection", sub + ")(|(entryUUID=*", false},
		{"colon", "a:b", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, found, err := d.FindBySubject(context.Background(), c.sub)
			if err != nil {
				t.Fatal(err)
			}
			if found != c.found {
				t.Fatalf("found = %v, want %v", found, c.found)
			}
			if found && (got.Email != u.Mail || got.Subject != sub) {
				t.Fatalf("got %+v", got)
			}
		})
	}
	s.Stop(t)
	if _, _, err := d.FindBySubject(context.Background(), sub); err == nil {
		t.Fatal("no error with the directory down")
	}
}
