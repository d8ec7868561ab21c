package views

import (
	"context"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"
)

// bannedWording are variants the pages must not say: one term for an
// email address (« adresse électronique »), no « cliquez » (radio buttons
// and keyboards are not clicked), no internal or dated words.
var bannedWording = []string{
	"adresse mail", "adresse email", "adresse e-mail", "e-mail",
	"cliquez", "mutualisé", "dès lors",
}

func render(t *testing.T, c templ.Component) string {
	t.Helper()
	var b strings.Builder
	if err := c.Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

var (
	tagRE    = regexp.MustCompile(`<[^>]*>`)
	inlineRE = regexp.MustCompile(`</?(?:span|a|strong|em|code|abbr)\b[^>]*>`)
	spacesRE = regexp.MustCompile(`[ \t\r\n]+`)
	// The <head> goes too: the <title>'s format belongs to layout.templ.
	commentRE = regexp.MustCompile(`(?s)<!--.*?-->|<script\b.*?</script>|<style\b.*?</style>|<head>.*?</head>`)
)

// visibleText is what a page says: its text and the attributes a person
// may see or hear.
func visibleText(page string) string {
	page = commentRE.ReplaceAllString(page, " ")
	var said []string
	for _, m := range regexp.MustCompile(`\s(?:aria-label|aria-roledescription|title|alt|placeholder|data-label-[a-z]+|data-text-[a-z]+)="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		said = append(said, m[1])
	}
	page = tagRE.ReplaceAllString(inlineRE.ReplaceAllString(page, ""), " ")
	return html.UnescapeString(spacesRE.ReplaceAllString(page+" "+strings.Join(said, " "), " "))
}

// words is text with runs of ASCII white space made one space (not
// strings.Fields, which would take the non-breaking spaces too).
func words(s string) string { return strings.TrimSpace(spacesRE.ReplaceAllString(s, " ")) }

// wordingPages renders every page of these views in each of its states
// that changes the wording.
func wordingPages(t *testing.T) map[string]string {
	t.Helper()
	site := Site{SupportURL: "/support"}
	profiles := []ResetProfile{
		{ID: "usager", Label: "Je suis un usager des services de la Région", Examples: "Exemples\u00a0: demandeur d’aide, gestionnaire d’un lycée, partenaire, prestataire."},
		{ID: "elu", Label: "Je suis un élu de la Région"},
	}
	pages := map[string]string{
		"profile":         render(t, ResetProfileForm(ResetProfilePage{Site: site, Profiles: profiles})),
		"profile missing": render(t, ResetProfileForm(ResetProfilePage{Site: site, Profiles: profiles, Missing: true})),
		"address":         render(t, ResetEmailForm(ResetEmailPage{Site: site, BackURL: "/mot-de-passe-perdu", Retention: 15 * time.Minute})),
		"address invalid": render(t, ResetEmailForm(ResetEmailPage{Site: site, Invalid: true, Expired: true})),
		"code verified":   render(t, ResetCodeForm(ResetCodePage{Site: site, Verified: true, NextURL: "/n"})),
		"code held back":  render(t, ResetCodeForm(ResetCodePage{Site: site, Validity: 10 * time.Minute, Cooldown: 4 * time.Minute, Resent: true})),
		"code resent":     render(t, ResetCodeForm(ResetCodePage{Site: site, Validity: 10 * time.Minute, Resent: true})),
		"link":            render(t, ResetLinkForm(ResetLinkPage{Site: site})),
		"link invalid":    render(t, ResetLinkForm(ResetLinkPage{Site: site, Invalid: true})),
		"login":           render(t, Login(LoginPage{Site: site, ClientName: "Aides", MissingLogin: true, MissingPassword: true})),
		"login failed":    render(t, Login(LoginPage{Site: site, Failed: true, Hold: Hold{Kind: HoldLock, Wait: time.Minute}, Upstreams: []UpstreamChoice{{Label: "Je suis un élu de la Région", URL: "/u"}}})),
		"login network":   render(t, Login(LoginPage{Site: site, NetworkHold: Hold{Kind: HoldDelay, Wait: time.Second}})),
		"login down":      render(t, Login(LoginPage{Site: site, Unavailable: true})),
		"grace":           render(t, PasswordGracePage(PasswordGrace{Site: site, GraceLogins: 2, ClientName: "Aides"})),
		"grace last":      render(t, PasswordGracePage(PasswordGrace{Site: site})),
		"support":         render(t, Support(SupportPage{Site: site, Contact: SupportContact{Email: "a@b.fr", Phone: "05", Hours: "9 h", FormURL: "/f", Address: "14 rue François de Sourdis"}})),
		"return_to":       render(t, ReturnToRefused(ReturnToRefusedPage{Site: site})),
		"reset only":      render(t, ResetOnlyHome(ResetOnlyHomePage{Site: site})),
		"waiting":         render(t, Waiting(WaitingPage{Site: site, Slow: true, SlowIn: []string{"l’annuaire des lycées"}, WrittenIn: []string{"l’annuaire de la Région"}})),
		"done":            render(t, ChangeDone(ChangeDonePage{Site: site, NotChangedIn: []string{"l’annuaire des lycées"}})),
		"done signed in":  render(t, ChangeDone(ChangeDonePage{Site: site, Why: ForChange, StillSignedIn: true})),
		"failed":          render(t, ChangeFailed(ChangeFailedPage{Site: site})),
		"failed unknown":  render(t, ChangeFailed(ChangeFailedPage{Site: site, Unconfirmed: true})),
		"demo":            render(t, Demo(DemoPage{Claims: []DemoClaim{{Name: "exp", Value: "1"}}, Error: "x", LogoutURL: "/l"})),
	}
	for _, e := range []CodeError{CodeOK, CodeMissing, CodeWrong, CodeDead, CodeSuspended} {
		pages["code "+e.String()] = render(t, ResetCodeForm(ResetCodePage{Site: site, Validity: 10 * time.Minute, Error: e, BackURL: "/a"}))
	}
	for pb := PasswordOK; pb <= PasswordRefused; pb++ {
		for _, why := range []NewPasswordWhy{ForLostPassword, ForChange, ForMustChange, ForExpired} {
			pages["new password "+strings.Repeat("!", int(pb))+strings.Repeat("+", int(why))] = render(t, NewPasswordForm(NewPasswordPage{Site: site, MinLength: 12, MaxLength: 128, Problem: pb, Why: why, BackURL: "/c"}))
		}
	}
	for k := UpstreamRefused; k <= UpstreamInvalid; k++ {
		pages["upstream "+strings.Repeat("!", int(k))] = render(t, UpstreamFailed(UpstreamFailure{Site: site, Kind: k, Provider: "ProConnect", BackURL: "/b", RequestID: "r"}))
	}
	return pages
}

func (e CodeError) String() string {
	return [...]string{"ok", "missing", "wrong", "dead", "suspended"}[e]
}

// TestNoBannedWording keeps the variants out of the sources (every
// .templ here and in email/, and the mails' plain text) and out of what
// the rendered pages say.
func TestNoBannedWording(t *testing.T) {
	t.Parallel()
	var sources []string
	for _, glob := range []string{"*.templ", "email/*.templ", "email/text.go", "static/*.js"} {
		m, err := filepath.Glob(glob)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, m...)
	}
	if len(sources) < 10 {
		t.Fatalf("only %d sources", len(sources))
	}
	for _, src := range sources {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		lower := strings.ToLower(string(data))
		for _, bad := range bannedWording {
			if strings.Contains(lower, bad) {
				t.Errorf("%s says « %s »", src, bad)
			}
		}
	}
	for name, page := range wordingPages(t) {
		said := strings.ToLower(visibleText(page))
		for _, bad := range bannedWording {
			if strings.Contains(said, bad) {
				t.Errorf("page %q says « %s »", name, bad)
			}
		}
	}
}

// TestFrenchTypography: a non-breaking space before « : ; ? ! » and inside
// « », the typographic apostrophe, and a small letter after « Erreur : ».
func TestFrenchTypography(t *testing.T) {
	t.Parallel()
	rules := []struct {
		re  *regexp.Regexp
		why string
	}{
		{regexp.MustCompile(`[^\s\x{00a0}\x{202f}][:;?!](\s|$)`), "no space before the sign"},
		{regexp.MustCompile(`[ \t\n][:;?!](\s|$)`), "a breaking space before the sign"},
		{regexp.MustCompile(`«[^\x{00a0}\x{202f}]|[^\x{00a0}\x{202f}]»`), "« » without non-breaking spaces"},
		{regexp.MustCompile(`\pL'\pL`), "a straight apostrophe"},
		{regexp.MustCompile(`Erreur\x{00a0}:\s*\p{Lu}`), "a capital after « Erreur : »"},
	}
	for name, page := range wordingPages(t) {
		said := visibleText(page)
		for _, r := range rules {
			for _, m := range r.re.FindAllString(said, -1) {
				if strings.Contains(m, "http") {
					continue
				}
				t.Errorf("page %q: %q: %s", name, m, r.why)
			}
		}
	}
}

var (
	codeInputRE = regexp.MustCompile(`<input[^>]*\bid="code"[^>]*>`)
	attrRE      = regexp.MustCompile(`\s([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:="([^"]*)")?`)
)

func attrs(tag string) map[string][]string {
	out := map[string][]string{}
	for _, m := range attrRE.FindAllStringSubmatch(strings.TrimSuffix(strings.TrimPrefix(tag, "<input"), ">"), -1) {
		out[m[1]] = append(out[m[1]], m[2])
	}
	return out
}

// TestCodeInputAttributes: the code field has each attribute once, no
// stray one, and is described by the hint and the message about it.
func TestCodeInputAttributes(t *testing.T) {
	t.Parallel()
	for e, want := range map[CodeError]struct {
		describedBy string
		invalid     bool
	}{
		CodeOK:        {"code-aide", false},
		CodeMissing:   {"code-aide code-erreur", true},
		CodeWrong:     {"code-aide erreur", true},
		CodeDead:      {"code-aide", false},
		CodeSuspended: {"code-aide", false},
	} {
		page := render(t, ResetCodeForm(ResetCodePage{Validity: 10 * time.Minute, Error: e}))
		tags := codeInputRE.FindAllString(page, -1)
		if len(tags) != 1 {
			t.Fatalf("%s: %d code inputs", e, len(tags))
		}
		a := attrs(tags[0])
		allowed := map[string]bool{"id": true, "name": true, "type": true, "autocomplete": true, "inputmode": true,
			"autocapitalize": true, "spellcheck": true, "required": true, "aria-invalid": true, "aria-describedby": true}
		for name, vs := range a {
			if !allowed[name] {
				t.Errorf("%s: stray attribute %s in %s", e, name, tags[0])
			}
			if len(vs) != 1 {
				t.Errorf("%s: %s appears %d times in %s", e, name, len(vs), tags[0])
			}
		}
		if got := a["aria-describedby"]; len(got) != 1 || got[0] != want.describedBy {
			t.Errorf("%s: aria-describedby %q, want %q", e, got, want.describedBy)
		}
		for _, id := range strings.Fields(want.describedBy) {
			if !strings.Contains(page, `id="`+id+`"`) {
				t.Errorf("%s: described by %s, which is not on the page", e, id)
			}
		}
		// An empty aria-invalid means false to assistive technology.
		if got, invalid := a["aria-invalid"]; invalid != want.invalid || invalid && got[0] != "true" {
			t.Errorf("%s: aria-invalid %q, want it present (\"true\") %v", e, got, want.invalid)
		}
	}
}

// TestResetSteps: each step screen says where the person stands and what
// comes next, in its heading, and leads back to the previous step.
func TestResetSteps(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, page, state, title, next, back string
	}{
		{"profile", render(t, ResetProfileForm(ResetProfilePage{Profiles: []ResetProfile{{ID: "u", Label: "U"}}})),
			"Étape 2 sur 5", "Votre situation", "Votre adresse électronique", ""},
		{"address", render(t, ResetEmailForm(ResetEmailPage{BackURL: "/mdp?authRequestID=x", Retention: 15 * time.Minute})),
			"Étape 3 sur 5", "Votre adresse électronique", "Code de sécurité", "/mdp?authRequestID=x"},
		{"code", render(t, ResetCodeForm(ResetCodePage{BackURL: "/mdp/adresse", Validity: time.Minute})),
			"Étape 4 sur 5", "Code de sécurité", "Nouveau mot de passe", "/mdp/adresse"},
		{"code verified", render(t, ResetCodeForm(ResetCodePage{BackURL: "/mdp/adresse", Verified: true, NextURL: "/mdp/nouveau"})),
			"Étape 4 sur 5", "Code de sécurité", "Nouveau mot de passe", "/mdp/adresse"},
		{"new password", render(t, NewPasswordForm(NewPasswordPage{BackURL: "/mdp/code", MinLength: 12, MaxLength: 64})),
			"Étape 5 sur 5", "Nouveau mot de passe", "", "/mdp/code"},
	} {
		h1 := regexp.MustCompile(`(?s)<h1[^>]*>(.*?)</h1>`).FindStringSubmatch(tc.page)
		if h1 == nil {
			t.Errorf("%s: no h1", tc.name)
			continue
		}
		heading := words(visibleText(h1[1]))
		if want := tc.state + "\u00a0: " + tc.title; heading != want {
			t.Errorf("%s: h1 %q, want %q", tc.name, heading, want)
		}
		said := visibleText(tc.page)
		if tc.next != "" && !strings.Contains(said, "Étape suivante\u00a0: "+tc.next) {
			t.Errorf("%s: next step %q not said", tc.name, tc.next)
		}
		if tc.next == "" && strings.Contains(said, "Étape suivante") {
			t.Errorf("%s: the last step has a next step", tc.name)
		}
		if !strings.Contains(tc.page, `class="stepper-bar" aria-hidden="true"`) {
			t.Errorf("%s: the bar is not hidden from assistive technologies", tc.name)
		}
		back := regexp.MustCompile(`<p class="back"><a href="([^"]*)">Retour<span class="sr-only"> à l’étape précédente\x{00a0}: ([^<]*)</span>`).FindStringSubmatch(tc.page)
		switch {
		case tc.back == "" && back != nil:
			t.Errorf("%s: a « Retour » link on the first step", tc.name)
		case tc.back != "" && (back == nil || html.UnescapeString(back[1]) != tc.back):
			t.Errorf("%s: « Retour » leads to %v, want %q", tc.name, back, tc.back)
		case tc.back != "" && back[2] == "":
			t.Errorf("%s: « Retour » does not name the previous step", tc.name)
		}
	}
	// The change of password, signed in, is no step of this journey.
	page := render(t, NewPasswordForm(NewPasswordPage{Why: ForChange, BackURL: "/x", MinLength: 12, MaxLength: 64}))
	if strings.Contains(page, "Étape") || strings.Contains(page, `class="back"`) {
		t.Error("the signed-in change shows the steps of « Mot de passe perdu »")
	}
}

// TestAddressPersonalData: the address field says what the address is
// for, how long it is kept, and links to the personal-data page.
func TestAddressPersonalData(t *testing.T) {
	t.Parallel()
	page := render(t, ResetEmailForm(ResetEmailPage{Retention: 15 * time.Minute}))
	said := visibleText(page)
	for _, want := range []string{"sert uniquement à vous envoyer le code de sécurité", "15\u00a0minutes", "données personnelles"} {
		if !strings.Contains(said, want) {
			t.Errorf("the notice does not say %q", want)
		}
	}
	if !strings.Contains(page, `href="/donnees-personnelles"`) {
		t.Error("no link to /donnees-personnelles")
	}
}

// TestShowPasswordsButton: hidden until the script runs, and it carries
// both of its names for the script to switch.
func TestShowPasswordsButton(t *testing.T) {
	t.Parallel()
	page := render(t, NewPasswordForm(NewPasswordPage{MinLength: 12, MaxLength: 64}))
	if !regexp.MustCompile(`<p id="afficher-zone" hidden>\s*<button`).MatchString(page) {
		t.Error("the button's paragraph is not hidden without JavaScript")
	}
	for _, want := range []string{`data-label-shown="Masquer les mots de passe"`, `data-label-hidden="Afficher les mots de passe"`, `>Afficher les mots de passe</button>`} {
		if !strings.Contains(page, want) {
			t.Errorf("no %s", want)
		}
	}
	if strings.Contains(page, "aria-pressed") {
		t.Error("aria-pressed on a button whose name changes")
	}
	js, err := os.ReadFile("static/password.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"zone.hidden = false", "labelShown", "labelHidden"} {
		if !strings.Contains(string(js), want) {
			t.Errorf("password.js lacks %q", want)
		}
	}
}
