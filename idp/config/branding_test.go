package config

import (
	"slices"
	"strings"
	"testing"
)

// TestBrandingDefaults: a file without branding or legal sections is the
// Région's service, with a focus colour that stands out from both white
// and the buttons.
func TestBrandingDefaults(t *testing.T) {
	t.Parallel()
	c := mustParse(t, minimalWith(t), nil)
	b := c.Branding
	if b.Name != DefaultBrandName || b.ServiceName != DefaultServiceName || b.PrimaryColor != DefaultPrimaryColor || b.Logo != nil {
		t.Errorf("branding %+v, want the Région's", b)
	}
	if !slices.Equal(b.FooterLinks, DefaultFooterLinks()) {
		t.Errorf("footer links %v, want %v", b.FooterLinks, DefaultFooterLinks())
	}
	white := 1.0
	primary, _ := parseColor(b.PrimaryColor)
	focus, ok := parseColor(b.FocusColor)
	if !ok || contrast(focus, white) < 3 || contrast(focus, primary) < 3 {
		t.Errorf("focus colour %q: %.2f:1 against white, %.2f:1 against %s; want 3:1 each",
			b.FocusColor, contrast(focus, white), contrast(focus, primary), b.PrimaryColor)
	}
	if d := DefaultBranding(); d.FocusColor != b.FocusColor || d.PrimaryColor != b.PrimaryColor || !slices.Equal(d.FooterLinks, b.FooterLinks) {
		t.Errorf("DefaultBranding() %+v, a file without the section %+v", d, b)
	}
	if DefaultLegal() != c.Legal {
		t.Errorf("DefaultLegal() %+v, a file without the section %+v", DefaultLegal(), c.Legal)
	}
	l := c.Legal
	if l.DPOEmail != DefaultDPOEmail || l.Publisher != DefaultPublisher || l.LegalNoticeURL != "" || l.AuditLogRetention != DefaultAuditLogRetention {
		t.Errorf("legal %+v, want the Région's defaults", l)
	}
}

// TestBranding: every key is read, and each mistake is one problem on
// its line.
func TestBranding(t *testing.T) {
	t.Parallel()
	base := minimalWith(t)
	line := strings.Count(base, "\n") + 2 // the line after "branding:"
	svg := `<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"></svg>`
	files := map[string]string{
		"/etc/idp/logo.svg": svg,
		"/etc/idp/logo.png": "\x89PNG\r\n\x1a\n....",
		"/etc/idp/logo.gif": "GIF89a....",
		"/etc/idp/big.svg":  "<svg>" + strings.Repeat(" ", MaxLogoBytes),
	}
	tests := []struct {
		name, yaml  string
		wantProblem string // "path: message" start, "" for none
		wantLine    int
		check       func(t *testing.T, c *Config)
	}{
		{name: "everything", yaml: "branding:\n  name: Département\n  service_name: Mes services\n  logo_file: /etc/idp/logo.svg\n  primary_color: \"#000091\"\n  footer_links:\n    - {label: Accueil, url: \"https://example.org/\"}\n",
			check: func(t *testing.T, c *Config) {
				b := c.Branding
				if b.Name != "Département" || b.ServiceName != "Mes services" || b.PrimaryColor != "#000091" ||
					string(b.Logo) != svg || b.LogoType != "image/svg+xml" ||
					!slices.Equal(b.FooterLinks, []Link{{Label: "Accueil", URL: "https://example.org/"}}) {
					t.Errorf("branding %+v", b)
				}
			}},
		{name: "a PNG logo", yaml: "branding:\n  logo_file: /etc/idp/logo.png\n",
			check: func(t *testing.T, c *Config) {
				if c.Branding.LogoType != "image/png" {
					t.Errorf("logo type %q", c.Branding.LogoType)
				}
			}},
		{name: "no footer links", yaml: "branding:\n  footer_links: []\n",
			check: func(t *testing.T, c *Config) {
				if len(c.Branding.FooterLinks) != 0 {
					t.Errorf("footer links %v, want none", c.Branding.FooterLinks)
				}
			}},
		{name: "a light primary gets a dark focus ring", yaml: "branding:\n  primary_color: \"#2a6b3a\"\n",
			check: func(t *testing.T, c *Config) {
				p, _ := parseColor(c.Branding.PrimaryColor)
				f, _ := parseColor(c.Branding.FocusColor)
				if contrast(f, 1) < 3 || (contrast(f, p) < 3 && c.Branding.FocusColor != focusFallback) {
					t.Errorf("focus %s against %s", c.Branding.FocusColor, c.Branding.PrimaryColor)
				}
			}},
		{name: "low contrast", yaml: "branding:\n  primary_color: \"#e4794a\"\n", wantProblem: "branding.primary_color: #e4794a has a contrast of 2.", wantLine: line},
		{name: "not a colour", yaml: "branding:\n  primary_color: blue\n", wantProblem: `branding.primary_color: "blue" is not a colour`, wantLine: line},
		{name: "short colour", yaml: "branding:\n  primary_color: \"#036\"\n", wantProblem: `branding.primary_color: "#036" is not a colour`},
		{name: "missing logo", yaml: "branding:\n  logo_file: /etc/idp/none.svg\n", wantProblem: `branding.logo_file: cannot read "/etc/idp/none.svg"`, wantLine: line},
		{name: "a GIF logo", yaml: "branding:\n  logo_file: /etc/idp/logo.gif\n", wantProblem: "branding.logo_file: \"/etc/idp/logo.gif\" is neither an SVG nor a PNG"},
		{name: "a huge logo", yaml: "branding:\n  logo_file: /etc/idp/big.svg\n", wantProblem: "branding.logo_file: \"/etc/idp/big.svg\" is "},
		{name: "empty name", yaml: "branding:\n  name: \" \"\n", wantProblem: "branding.name: must not be empty"},
		{name: "link without label", yaml: "branding:\n  footer_links:\n    - url: https://example.org/\n", wantProblem: "branding.footer_links[0].label: is required"},
		{name: "link without url", yaml: "branding:\n  footer_links:\n    - label: Accueil\n", wantProblem: "branding.footer_links[0].url: this setting is required"},
		{name: "http link", yaml: "branding:\n  footer_links:\n    - {label: Accueil, url: \"http://example.org/\"}\n", wantProblem: `branding.footer_links[0].url: "http://example.org/" must use https`},
		{name: "unknown key", yaml: "branding:\n  colour: \"#000091\"\n", wantProblem: `branding: unknown key "colour"`, wantLine: line},
		{name: "unknown link key", yaml: "branding:\n  footer_links:\n    - {label: A, url: \"https://example.org/\", title: B}\n", wantProblem: `branding.footer_links[0]: unknown key "title"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, errs := parse(t, base+tc.yaml, files)
			if tc.wantProblem == "" {
				if errs != nil {
					t.Fatalf("unexpected problems:\n%v", errs)
				}
				tc.check(t, c)
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

// TestLegal: the legal pages' facts and their addresses elsewhere.
func TestLegal(t *testing.T) {
	t.Parallel()
	base := minimalWith(t)
	tests := []struct {
		name, yaml  string
		wantProblem string
		want        Legal
	}{
		{name: "everything", yaml: "legal:\n  publisher: Département\n  publication_head: La présidente\n  host: Hébergeur\n  dpo_email: dpo@example.org\n  dpo_address: DPO\n  legal_notice_url: https://example.org/mentions\n  privacy_url: https://example.org/rgpd\n  cookies_url: https://example.org/cookies\n  audit_log_retention: 6 mois\n",
			want: Legal{Publisher: "Département", PublicationHead: "La présidente", Host: "Hébergeur", DPOEmail: "dpo@example.org", DPOAddress: "DPO",
				LegalNoticeURL: "https://example.org/mentions", PrivacyURL: "https://example.org/rgpd", CookiesURL: "https://example.org/cookies", AuditLogRetention: "6 mois"}},
		{name: "a bad DPO address", yaml: "legal:\n  dpo_email: dpo\n", wantProblem: `legal.dpo_email: "dpo" is not a bare address`},
		{name: "an empty host", yaml: "legal:\n  host: \"\"\n", wantProblem: "legal.host: must not be empty"},
		{name: "a relative override", yaml: "legal:\n  privacy_url: /rgpd\n", wantProblem: `legal.privacy_url: "/rgpd" is not an absolute URL`},
		{name: "unknown key", yaml: "legal:\n  dpo: dpo@example.org\n", wantProblem: `legal: unknown key "dpo"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, errs := parse(t, base+tc.yaml, nil)
			if tc.wantProblem == "" {
				if errs != nil {
					t.Fatalf("unexpected problems:\n%v", errs)
				}
				if c.Legal != tc.want {
					t.Errorf("legal %+v, want %+v", c.Legal, tc.want)
				}
				return
			}
			if len(errs) != 1 || !strings.HasPrefix(errs[0].Path+": "+errs[0].Message, tc.wantProblem) {
				t.Fatalf("problems %v, want one starting %q", errs, tc.wantProblem)
			}
		})
	}
}
