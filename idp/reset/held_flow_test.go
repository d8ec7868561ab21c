package reset_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestHeldFlowTellsNothing: a flow whose request was held back by the
// address's limit has no code; the codes typed there are compared with
// nothing and count nowhere, and it sees the address suspended exactly
// when the flows with a code do, whether the address has an account or
// not. Otherwise ten wrong codes in a held flow, then one in a flow with a
// code, told an address with an account (not suspended: its failures are
// the person's) from one without (suspended).
func TestHeldFlowTellsNothing(t *testing.T) {
	t.Parallel()
	for _, address := range []string{demoMail, "personne@example.org"} {
		for _, tc := range []struct {
			name string
			// wrongInHeld wrong codes in the held flow, then wrongInCoded
			// spread over the flows with a code; want is what the next
			// code typed in the flow named by in gets.
			wrongInHeld, wrongInCoded int
			in, want                  string
		}{
			{"wrong codes in the held flow", 10, 0, "coded", "wrong"},
			{"wrong codes in the flows with a code", 0, 10, "held", "suspended"},
		} {
			t.Run(address+", "+tc.name, func(t *testing.T) {
				t.Parallel()
				j := newJourney(t)
				var coded []*testenv.Visitor
				for range 3 {
					v, _ := j.asked(address)
					coded = append(coded, v)
				}
				held, _ := j.asked(address) // the fourth in 15 minutes
				typeCode := func(v *testenv.Visitor) string {
					t.Helper()
					body := j.post(v, lost+"/code", lost+"/code", url.Values{"code": {"ZZZZZZ"}}).Body
					switch {
					case strings.Contains(body, "Trop de codes incorrects"):
						return "suspended"
					case strings.Contains(body, "incorrect ou a expiré"):
						return "wrong"
					}
					t.Fatalf("unexpected code page: %.300s", body)
					return ""
				}
				for i := range tc.wrongInHeld {
					if got := typeCode(held); got != "wrong" {
						t.Fatalf("wrong code %d in the held flow: %s", i+1, got)
					}
				}
				for i := range tc.wrongInCoded {
					if got := typeCode(coded[i%3]); got != "wrong" {
						t.Fatalf("wrong code %d in the flows with a code: %s", i+1, got)
					}
				}
				v := held
				if tc.in == "coded" {
					v = coded[0]
				}
				if got := typeCode(v); got != tc.want {
					t.Errorf("next code in the %s flow: %s, want %s", tc.in, got, tc.want)
				}
			})
		}
	}
}
