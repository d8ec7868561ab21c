package config

import (
	"bytes"
	"math"
	"net/mail"
	"strconv"
	"strings"
)

// Branding is the visual identity of every page: whose service it is,
// its name, logo and colour, and the links of the footer. The defaults
// are the Région's, so most files leave the section out.
type Branding struct {
	Name        string // the organisation, default DefaultBrandName
	ServiceName string // the service, ending every page title; default DefaultServiceName
	// LogoFile is an SVG or PNG file shown in the header instead of the
	// built-in logo; Logo and LogoType are its content, read at load.
	LogoFile string
	Logo     []byte
	LogoType string // "image/svg+xml" or "image/png"
	// PrimaryColor is "#rrggbb": header rule, buttons and links. It must
	// read at 4.5:1 against white, as white text on it must.
	PrimaryColor string
	// FocusColor is the focus ring's, derived from PrimaryColor: at
	// least 3:1 against white and against the buttons when one exists.
	FocusColor  string
	FooterLinks []Link
}

// Link is one footer link.
type Link struct {
	Label string
	URL   string
}

// Defaults of the branding section.
const (
	DefaultBrandName    = "Région Nouvelle-Aquitaine"
	DefaultServiceName  = "Mes démarches en Nouvelle-Aquitaine"
	DefaultPrimaryColor = "#00358e"
	// MaxLogoBytes bounds a logo file: it is held in memory and sent
	// with every first visit.
	MaxLogoBytes = 256 << 10
	// MinPrimaryContrast is the contrast of normal text (WCAG 1.4.3).
	MinPrimaryContrast = 4.5
)

// DefaultFooterLinks are the Région's sites.
func DefaultFooterLinks() []Link {
	return []Link{
		{Label: "nouvelle-aquitaine.fr", URL: "https://www.nouvelle-aquitaine.fr"},
		{Label: "Mes démarches en Nouvelle-Aquitaine", URL: "https://mesdemarches.nouvelle-aquitaine.fr"},
	}
}

// DefaultBranding is the Région's identity, as a file without a
// branding section gets it.
func DefaultBranding() Branding {
	lum, _ := parseColor(DefaultPrimaryColor)
	return Branding{
		Name: DefaultBrandName, ServiceName: DefaultServiceName, PrimaryColor: DefaultPrimaryColor,
		FocusColor: focusColor(lum), FooterLinks: DefaultFooterLinks(),
	}
}

// DefaultLegal is what the Région's legal pages state.
func DefaultLegal() Legal {
	return Legal{
		Publisher: DefaultPublisher, PublicationHead: DefaultPublicationHead, Host: DefaultHost,
		DPOEmail: DefaultDPOEmail, DPOAddress: DefaultDPOAddress, AuditLogRetention: DefaultAuditLogRetention,
	}
}

// Legal is what the pages « Mentions légales », « Données personnelles »
// and « Cookies » state. Each page can instead be the Région's own, at
// an address given here (accessibility_url does that for the
// accessibility statement).
type Legal struct {
	Publisher       string // who publishes the service, with its address
	PublicationHead string // directeur ou directrice de la publication
	Host            string // who hosts it, with its address
	DPOEmail        string // the data protection officer's bare address
	DPOAddress      string // their postal address, one line per line
	LegalNoticeURL  string // « Mentions légales » elsewhere; optional
	PrivacyURL      string // « Données personnelles » elsewhere; optional
	CookiesURL      string // « Cookies » elsewhere; optional
	// AuditLogRetention is how long the operator keeps the audit lines,
	// as the privacy page states it (« 1 an »): logs leave this program.
	AuditLogRetention string
}

// Defaults of the legal section: the Région's.
const (
	DefaultPublisher         = "Région Nouvelle-Aquitaine\n14 rue François de Sourdis\n33077 Bordeaux Cedex"
	DefaultPublicationHead   = "Le président du Conseil régional de Nouvelle-Aquitaine"
	DefaultHost              = "Région Nouvelle-Aquitaine, direction des systèmes d’information\n14 rue François de Sourdis\n33077 Bordeaux Cedex"
	DefaultDPOEmail          = "dpo@nouvelle-aquitaine.fr"
	DefaultDPOAddress        = "Région Nouvelle-Aquitaine\nDélégué à la protection des données\n14 rue François de Sourdis\n33077 Bordeaux Cedex"
	DefaultAuditLogRetention = "1 an"
)

func (d *decoder) decodeBranding(m *mapping, b *Branding) {
	m.str("name", &b.Name)
	m.str("service_name", &b.ServiceName)
	m.str("logo_file", &b.LogoFile)
	m.str("primary_color", &b.PrimaryColor)
	path := childPath(m.path, "footer_links")
	for i, item := range m.seq("footer_links") {
		l := d.mapping(item, indexPath(path, i))
		var link Link
		l.str("label", &link.Label)
		l.str("url", &link.URL)
		l.done()
		b.FooterLinks = append(b.FooterLinks, link)
	}
	m.done()
}

func (d *decoder) decodeLegal(m *mapping, l *Legal) {
	m.str("publisher", &l.Publisher)
	m.str("publication_head", &l.PublicationHead)
	m.str("host", &l.Host)
	m.str("dpo_email", &l.DPOEmail)
	m.str("dpo_address", &l.DPOAddress)
	m.str("legal_notice_url", &l.LegalNoticeURL)
	m.str("privacy_url", &l.PrivacyURL)
	m.str("cookies_url", &l.CookiesURL)
	m.str("audit_log_retention", &l.AuditLogRetention)
	m.done()
}

func (d *decoder) brandingDefaults(c *Config) {
	def := func(path string, set func()) {
		if !d.given(path) {
			set()
		}
	}
	b, l := &c.Branding, &c.Legal
	def("branding.name", func() { b.Name = DefaultBrandName })
	def("branding.service_name", func() { b.ServiceName = DefaultServiceName })
	def("branding.primary_color", func() { b.PrimaryColor = DefaultPrimaryColor })
	def("branding.footer_links", func() { b.FooterLinks = DefaultFooterLinks() })
	def("legal.publisher", func() { l.Publisher = DefaultPublisher })
	def("legal.publication_head", func() { l.PublicationHead = DefaultPublicationHead })
	def("legal.host", func() { l.Host = DefaultHost })
	def("legal.dpo_email", func() { l.DPOEmail = DefaultDPOEmail })
	def("legal.dpo_address", func() { l.DPOAddress = DefaultDPOAddress })
	def("legal.audit_log_retention", func() { l.AuditLogRetention = DefaultAuditLogRetention })
}

func (v *validator) branding() {
	b := &v.c.Branding
	for _, k := range []struct{ key, val string }{{"name", b.Name}, {"service_name", b.ServiceName}} {
		if strings.TrimSpace(k.val) == "" {
			v.report("branding."+k.key, "must not be empty: leave the key out for the default")
		}
	}
	if lum, ok := parseColor(b.PrimaryColor); !ok {
		v.report("branding.primary_color", "%q is not a colour written \"#rrggbb\", such as %q", b.PrimaryColor, DefaultPrimaryColor)
	} else if r := contrast(lum, 1); r < MinPrimaryContrast {
		v.report("branding.primary_color", "%s has a contrast of %.2f:1 against white; links and white text on buttons need at least %.1f:1: choose a darker colour",
			b.PrimaryColor, math.Floor(r*100)/100, MinPrimaryContrast)
	} else {
		b.FocusColor = focusColor(lum)
	}
	if b.LogoFile != "" {
		v.logo(b)
	}
	for i, l := range b.FooterLinks {
		p := indexPath("branding.footer_links", i)
		if strings.TrimSpace(l.Label) == "" {
			v.report(p+".label", "is required: the words of the link")
		}
		if v.required(p+".url", l.URL == "") {
			v.webURL(p+".url", l.URL, v.c.InsecureLoopback, redirectURL)
		}
	}
}

// logo reads the logo file and checks that it is an image a browser
// shows from an <img>.
func (v *validator) logo(b *Branding) {
	const path = "branding.logo_file"
	data, err := v.d.readFile(b.LogoFile)
	switch {
	case err != nil:
		v.report(path, "cannot read %q: %s", b.LogoFile, readError(err))
	case len(data) > MaxLogoBytes:
		v.report(path, "%q is %d bytes; a logo must be at most %d", b.LogoFile, len(data), MaxLogoBytes)
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		b.Logo, b.LogoType = data, "image/png"
	case bytes.Contains(data[:min(len(data), 1024)], []byte("<svg")):
		b.Logo, b.LogoType = data, "image/svg+xml"
	default:
		v.report(path, "%q is neither an SVG nor a PNG image", b.LogoFile)
	}
}

func (v *validator) legal() {
	l := v.c.Legal
	if a, err := mail.ParseAddress(l.DPOEmail); err != nil || a.Address != l.DPOEmail || !strings.Contains(l.DPOEmail[strings.LastIndex(l.DPOEmail, "@")+1:], ".") {
		v.report("legal.dpo_email", "%q is not a bare address such as %q", l.DPOEmail, DefaultDPOEmail)
	}
	for _, k := range []struct{ key, val string }{
		{"publisher", l.Publisher}, {"publication_head", l.PublicationHead}, {"host", l.Host},
		{"dpo_address", l.DPOAddress}, {"audit_log_retention", l.AuditLogRetention},
	} {
		if strings.TrimSpace(k.val) == "" {
			v.report("legal."+k.key, "must not be empty: leave the key out for the default")
		}
	}
	for _, k := range []struct{ key, val string }{{"legal_notice_url", l.LegalNoticeURL}, {"privacy_url", l.PrivacyURL}, {"cookies_url", l.CookiesURL}} {
		if v.d.given("legal." + k.key) {
			v.webURL("legal."+k.key, k.val, v.c.InsecureLoopback, redirectURL)
		}
	}
}

// parseColor reads "#rrggbb" and returns its relative luminance.
func parseColor(s string) (float64, bool) {
	if len(s) != 7 || s[0] != '#' {
		return 0, false
	}
	n, err := strconv.ParseUint(s[1:], 16, 32)
	if err != nil {
		return 0, false
	}
	return RelativeLuminance(uint8(n>>16), uint8(n>>8), uint8(n)), true
}

// RelativeLuminance is the WCAG relative luminance of an sRGB colour.
func RelativeLuminance(r, g, b uint8) float64 {
	lin := func(c uint8) float64 {
		s := float64(c) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}

// contrast is the WCAG contrast ratio of two luminances.
func contrast(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	return (a + 0.05) / (b + 0.05)
}

// focusRings are the candidate focus colours, warm so that they stand
// out from a blue or green primary; focusFallback is near black, which
// a white gap (outline-offset) separates from the button.
var focusRings = []string{"#e86200", "#d64d00", "#b84300", "#f07800"}

const focusFallback = "#161616"

// focusColor picks the candidate with the best contrast against both
// white and the primary colour of luminance primary, if that reaches
// 3:1 (WCAG 1.4.11).
func focusColor(primary float64) string {
	best, bestRatio := focusFallback, 0.0
	for _, c := range focusRings {
		lum, _ := parseColor(c)
		if r := min(contrast(lum, 1), contrast(lum, primary)); r > bestRatio {
			best, bestRatio = c, r
		}
	}
	if bestRatio < 3 {
		return focusFallback
	}
	return best
}
