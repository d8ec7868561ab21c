package reset_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

var emailValue = regexp.MustCompile(`name="email"[^>]*value="([^"]*)"`)

// TestResetAddressEchoesOnlyCleanText: the address typed comes back into
// the form (refused, or on coming back to the step) only as well-formed
// text; broken UTF-8, NUL, control and bidi characters leave the field
// empty, and the page stays valid UTF-8.
func TestResetAddressEchoesOnlyCleanText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, typed string
		echoed      bool
	}{
		{"refused, plain", "jeanne@exa mple.org", true},
		{"refused, accents", "élodie@exemple", true},
		{"not UTF-8 and NUL", "jeanne\xff\xfe@exa\x00mple.org", false},
		{"bidi override and BEL", "a\u202eb@example.org\a", false},
		{"escape sequence", "jeanne\x1b[31m@example.org", false},
		{"accepted, with a bidi override", "a\u202eb@example.org", false},
		{"accepted, with a zero-width space", "jea\u200bnne@example.org", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j := newJourney(t)
			v := j.started()
			a := j.post(v, lost+"/adresse", lost+"/adresse", url.Values{"email": {tc.typed}})
			j.h.Wait()
			if a.Status == http.StatusSeeOther {
				// Accepted: the step shows it again on the way back.
				a = v.Get(lost + "/adresse")
			}
			m := emailValue.FindStringSubmatch(a.Body)
			if a.Status != http.StatusOK || m == nil || !utf8.ValidString(a.Body) {
				t.Fatalf("%d, address field %q, valid UTF-8 %v\n%.500q", a.Status, m, utf8.ValidString(a.Body), a.Body)
			}
			want := ""
			if tc.echoed {
				want = html.EscapeString(tc.typed)
			}
			if m[1] != want {
				t.Errorf("the address field holds %q, want %q", m[1], want)
			}
		})
	}
}

// TestResetLinkTokenShape: only a token of the shape the mails carry is
// moved into a cookie; anything else (too long, bytes a cookie cannot
// hold, a line break) gets the invalid-link page at once, with no cookie.
func TestResetLinkTokenShape(t *testing.T) {
	t.Parallel()
	shaped := strings.Repeat("A", 42) + "Q" // 32 bytes, base64url
	tests := []struct {
		name, query string
		moved       bool
	}{
		{"right shape, unknown", "t=" + shaped, true},
		{"6000 characters", "t=" + strings.Repeat("A", 6000), false},
		{"bytes a cookie cannot hold", "t=%ff%00%3B%20a", false},
		{"made-up", "t=made-up", false},
		{"one character more", "t=" + shaped + "A", false},
		{"one character less", "t=" + shaped[1:], false},
		{"a line break", "t=" + shaped + "%0A", false},
		{"padding", "t=" + shaped[2:] + "%3D", false},
		{"standard alphabet", "t=" + strings.Repeat("%2B", 42) + "Q", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j := newJourney(t)
			a := j.visitor().Get(lost + "/lien?" + tc.query)
			c := cookieIn(a.Cookies, "__Host-idp_reset_link")
			if tc.moved {
				if a.Status != http.StatusSeeOther || a.Location != lost+"/lien" || c == nil || c.Value != shaped {
					t.Errorf("%d to %q, cookie %v; want the token moved to a cookie", a.Status, a.Location, c)
				}
				return
			}
			if a.Status != http.StatusOK || c != nil || !strings.Contains(a.Body, "Ce lien n’est plus valable") {
				t.Errorf("%d to %q, cookie %.80v; want the invalid-link page, no cookie\n%.300s", a.Status, a.Location, c, a.Body)
			}
		})
	}
}
