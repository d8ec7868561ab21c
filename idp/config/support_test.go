package config

import (
	"strings"
	"testing"
)

// TestSupport: support_url defaults to the built-in page when contact
// details are given, and a configuration with neither gets one problem.
func TestSupport(t *testing.T) {
	t.Parallel()
	noURL := minimalExcept(t, "support_url")
	tests := []struct {
		name, yaml string
		// wantURL is support_url after defaults; wantProblem a problem's
		// "path: message" start (then wantLine its line), or "".
		wantURL, wantProblem string
		wantLine             int
		want                 Support
	}{
		{name: "support_url only", yaml: minimalWith(t), wantURL: "https://support.example.org"},
		{name: "reset.support_url only", yaml: noURL + "reset:\n  support_url: https://aide.example.org/\n", wantURL: "https://aide.example.org/"},
		{name: "contact details only", yaml: noURL + "support:\n  email: support@example.org\n  phone: 05 49 55 00 00\n  hours: du lundi au vendredi, 9 h – 17 h\n  url: https://aide.example.org/contact\n  address: |\n    14 rue François de Sourdis\n    33077 Bordeaux Cedex\n",
			wantURL: "https://idp.example.org/support",
			want: Support{Email: "support@example.org", Phone: "05 49 55 00 00", Hours: "du lundi au vendredi, 9 h – 17 h",
				URL: "https://aide.example.org/contact", Address: "14 rue François de Sourdis\n33077 Bordeaux Cedex\n"}},
		{name: "a phone alone", yaml: noURL + "support: {phone: 05 49 55 00 00}\n", wantURL: "https://idp.example.org/support", want: Support{Phone: "05 49 55 00 00"}},
		{name: "public_url is the base", yaml: strings.Replace(noURL, "redis:", "public_url: https://connexion.example.org/\nredis:", 1) + "support: {phone: \"3949\"}\n",
			wantURL: "https://connexion.example.org/support", want: Support{Phone: "3949"}},
		{name: "neither", yaml: noURL, wantProblem: "support: give support_url, or at least one contact detail"},
		{name: "an empty section", yaml: noURL + "support: {}\n", wantProblem: "support: give support_url", wantLine: strings.Count(noURL, "\n") + 1},
		{name: "not an address", yaml: minimalWith(t) + "support: {email: support}\n", wantProblem: `support.email: "support" is not a bare address`, wantLine: strings.Count(minimalWith(t), "\n") + 1},
		{name: "a display name", yaml: minimalWith(t) + "support: {email: \"Support <support@example.org>\"}\n", wantProblem: "support.email: ", wantLine: strings.Count(minimalWith(t), "\n") + 1},
		{name: "no domain dot", yaml: minimalWith(t) + "support: {email: support@localhost}\n", wantProblem: "support.email: "},
		{name: "an http form", yaml: minimalWith(t) + "support: {url: http://aide.example.org/}\n", wantProblem: `support.url: "http://aide.example.org/" must use https`},
		{name: "a relative form", yaml: minimalWith(t) + "support: {url: /contact}\n", wantProblem: `support.url: "/contact" is not an absolute URL`},
		{name: "an empty email", yaml: minimalWith(t) + "support: {email: \"\"}\n", wantProblem: "support.email: must not be empty"},
		{name: "an empty phone", yaml: minimalWith(t) + "support: {phone: \"\"}\n", wantProblem: "support.phone: must not be empty"},
		{name: "an unknown key", yaml: minimalWith(t) + "support: {mail: support@example.org}\n", wantProblem: `support: unknown key "mail"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, errs := parse(t, tc.yaml, nil)
			if tc.wantProblem == "" {
				if errs != nil {
					t.Fatalf("unexpected problems:\n%v", errs)
				}
				if c.SupportURL != tc.wantURL || c.Support != tc.want {
					t.Errorf("support_url %q, support %+v; want %q, %+v", c.SupportURL, c.Support, tc.wantURL, tc.want)
				}
				return
			}
			if len(errs) != 1 || !strings.HasPrefix(errs[0].Path+": "+errs[0].Message, tc.wantProblem) {
				t.Fatalf("problems %v, want one starting %q", errs, tc.wantProblem)
			}
			if tc.wantLine != 0 && errs[0].Line != tc.wantLine {
				t.Errorf("problem on line %d, want %d", errs[0].Line, tc.wantLine)
			}
		})
	}
}
