package app_test

import (
	"strings"
	"testing"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestResetHeldFlowTellsNothing: the attacker's browsers ask codes for an
// address until the fourth request in 15 minutes is held back (no code
// made), then type wrong codes. Whatever they type where, the code step
// answers the same for an address with an account (whose owner gets the
// mails) as for one without: otherwise it tells which addresses have an
// account. Real slapd, Redis and SMTP.
func TestResetHeldFlowTellsNothing(t *testing.T) {
	s := startStack(t)
	users := testenv.Users()
	tests := []struct {
		name                      string
		known, unknown            string
		wrongInHeld, wrongInCoded int
		in, want                  string // the flow typed in next ("held" or "coded") and its answer
	}{
		{"wrong codes in the held flow", users[0].Mail, "personne-a@example.org", 10, 0, "coded", "wrong"},
		{"wrong codes in the flows with a code", users[1].Mail, "personne-b@example.org", 0, 10, "held", "suspended"},
	}
	answer := func(t *testing.T, r resetClient) string {
		t.Helper()
		_, body := r.code("ZZZZZZ")
		switch {
		case strings.Contains(body, "Trop de codes incorrects"):
			return "suspended"
		case strings.Contains(body, "incorrect ou a expiré"):
			return "wrong"
		}
		t.Fatalf("unexpected code page: %.300s", body)
		return ""
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			flows := map[string][]resetClient{}
			// The address without an account first: its codes are made
			// (no mail) before the owner's three mails are in.
			for _, addr := range []string{tc.unknown, tc.known} {
				for range 4 {
					r := resetClient{newBrowserless(t, s)}
					r.start()
					r.email(map[string][]string{"email": {addr}}, nil)
					flows[addr] = append(flows[addr], r)
				}
			}
			waitMailTo(t, s, tc.known, 3)
			got := map[string]string{}
			for _, addr := range []string{tc.unknown, tc.known} {
				coded, held := flows[addr][:3], flows[addr][3]
				for i := range tc.wrongInHeld {
					if a := answer(t, held); a != "wrong" {
						t.Fatalf("%s: wrong code %d in the held flow: %s", addr, i+1, a)
					}
				}
				for i := range tc.wrongInCoded {
					if a := answer(t, coded[i%3]); a != "wrong" {
						t.Fatalf("%s: wrong code %d in the flows with a code: %s", addr, i+1, a)
					}
				}
				next := held
				if tc.in == "coded" {
					next = coded[0]
				}
				got[addr] = answer(t, next)
			}
			if n := len(mailsTo(s, tc.known)); n != 3 {
				t.Errorf("%d mails to the owner, want 3 (the fourth request held back)", n)
			}
			if got[tc.known] != tc.want || got[tc.unknown] != tc.want {
				t.Errorf("next code in the %s flow: %s for the account's address, %s for the other; want %s for both",
					tc.in, got[tc.known], got[tc.unknown], tc.want)
			}
		})
	}
}
