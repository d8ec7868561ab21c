package email

import (
	"context"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var seedProps = ResetCode{
	Code:       "T3A8XQ",
	Link:       "https://connexion.mesdemarches.nouvelle-aquitaine.fr/mot-de-passe-perdu/lien?t=Zm9v&x=1",
	Validity:   10 * time.Minute,
	PrivacyURL: "https://connexion.mesdemarches.nouvelle-aquitaine.fr/donnees-personnelles",
}

// TestResetCodeGolden pins both parts byte for byte. After a deliberate
// change of wording, run: UPDATE_GOLDEN=1 go test ./views/email and read
// the diff of testdata/.
func TestResetCodeGolden(t *testing.T) {
	t.Parallel()
	m, err := RenderResetCode(context.Background(), seedProps)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Validation du changement de mot de passe" {
		t.Errorf("subject = %q", m.Subject)
	}
	for _, part := range []struct{ file, got string }{
		{"reset_code.html.golden", m.HTML},
		{"reset_code.txt.golden", m.Text},
	} {
		path := filepath.Join("testdata", part.file)
		if os.Getenv("UPDATE_GOLDEN") != "" {
			if err := os.WriteFile(path, []byte(part.got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (create it with UPDATE_GOLDEN=1)", err)
		}
		if part.got != string(want) {
			t.Errorf("%s differs from the rendering:\n%s", path, part.got)
		}
	}
}

// seedSentences are the Région's guide's sentences (with the project's typography
// and the corrections of the brief) that both parts must say.
var seedSentences = []string{
	"Ce message a été généré automatiquement - merci de ne pas y répondre.",
	"Votre demande de réinitialisation de mot de passe a bien été prise en compte.",
	"Pour réinitialiser votre mot de passe, merci de cliquer ici",
	"Si pour une raison quelconque ce lien ne fonctionne pas, vous pouvez copier et coller le code suivant dans le formulaire de réinitialisation de mot de passe\u00a0:",
	"T3A8XQ",
	"Ce code et ce lien sont valables 10\u00a0minutes.",
	"Si vous n’êtes pas l’initiateur de cette réinitialisation, merci de ne pas prendre en compte ce message.",
	"Bonne continuation,",
	"L’équipe technique de la Région Nouvelle-Aquitaine",
}

// resetCodeNotice is the legal notice of the reset code mail: why it came,
// that it may be ignored, that nobody reads replies, the personal-data
// page, and the Région's address (rue François de Sourdis).
var resetCodeNotice = []string{
	"Vous recevez ce courriel parce qu’une réinitialisation de mot de passe a été demandée pour le compte «\u00a0Mes démarches en Nouvelle-Aquitaine\u00a0» associé à cette adresse électronique.",
	"Si vous n’avez rien demandé, vous pouvez ignorer ce message\u00a0: votre mot de passe reste inchangé.",
	"Ce courriel est envoyé par une adresse qui ne reçoit pas les réponses.",
	"règlement général sur la protection des données (RGPD)",
	"«\u00a0Données personnelles\u00a0»\u00a0:",
	"https://connexion.mesdemarches.nouvelle-aquitaine.fr/donnees-personnelles",
	"Région Nouvelle-Aquitaine – 14 rue François de Sourdis – 33077 Bordeaux",
}

var (
	tags   = regexp.MustCompile(`<[^>]*>`)
	spaces = regexp.MustCompile(`[ \t\n]+`)
)

// visibleText is what the HTML part shows, with white space collapsed.
func visibleText(h string) string {
	if i := strings.Index(h, "<body"); i >= 0 {
		h = h[i:]
	}
	return spaces.ReplaceAllString(html.UnescapeString(tags.ReplaceAllString(h, " ")), " ")
}

func TestResetCodeBothPartsSayTheSame(t *testing.T) {
	t.Parallel()
	m, err := RenderResetCode(context.Background(), seedProps)
	if err != nil {
		t.Fatal(err)
	}
	htmlText, text := visibleText(m.HTML), spaces.ReplaceAllString(m.Text, " ")
	for _, s := range append(seedSentences[:len(seedSentences):len(seedSentences)], resetCodeNotice...) {
		if !strings.Contains(htmlText, s) {
			t.Errorf("HTML part lacks %q", s)
		}
		if !strings.Contains(text, s) {
			t.Errorf("text part lacks %q", s)
		}
	}
	for name, part := range map[string]string{"HTML": m.HTML, "text": m.Text} {
		// The seed's slips and straight apostrophes must not come back.
		for _, bad := range []string{"Nouvelle Aquitaine", "de mot :", "'", "ALPC", "Sourdais", "06/01/1978"} {
			if strings.Contains(visibleText(part), bad) {
				t.Errorf("%s part contains %q", name, bad)
			}
		}
	}
	if !strings.Contains(m.Text, "\n"+seedProps.Link+"\n") {
		t.Errorf("text part does not give the link on its own line:\n%s", m.Text)
	}
	if !strings.Contains(m.Text, "\n\nT3A8XQ\n\n") {
		t.Errorf("text part does not give the code on its own line:\n%s", m.Text)
	}
}

func TestResetCodeHTMLMarkup(t *testing.T) {
	t.Parallel()
	m, err := RenderResetCode(context.Background(), seedProps)
	if err != nil {
		t.Fatal(err)
	}
	escapedLink := `href="https://connexion.mesdemarches.nouvelle-aquitaine.fr/mot-de-passe-perdu/lien?t=Zm9v&amp;x=1"`
	for _, want := range []string{
		`<html lang="fr">`,
		`lang="fr" dir="ltr"`,                           // survives webmails that drop <html>
		`merci de <a ` + escapedLink,                    // the link, escaped, inside its sentence
		`>cliquer ici</a>.</p>`,                         // with the guide's words
		`monospace; font-size: 32px; font-weight: bold`, // large monospaced code
		`<title>Validation du changement de mot de passe</title>`,
	} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("HTML lacks %s", want)
		}
	}
	for _, bad := range []string{"<script", "<link", "<img", "<style", "<b>"} {
		if strings.Contains(m.HTML, bad) {
			t.Errorf("HTML contains %s", bad)
		}
	}
}

func TestRenderResetCodeRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*ResetCode)
		want string
	}{
		{"no code", func(p *ResetCode) { p.Code = " " }, "no code"},
		{"relative link", func(p *ResetCode) { p.Link = "/mot-de-passe-perdu/lien" }, "not an absolute http(s) URL"},
		{"script link", func(p *ResetCode) { p.Link = "javascript:alert(1)" }, "not an absolute http(s) URL"},
		{"no host", func(p *ResetCode) { p.Link = "https:///x" }, "not an absolute http(s) URL"},
		{"no validity", func(p *ResetCode) { p.Validity = 0 }, "no validity"},
	}
	for _, tt := range tests {
		p := seedProps
		tt.edit(&p)
		m, err := RenderResetCode(context.Background(), p)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
		if m != (Mail{}) {
			t.Errorf("%s: a mail was rendered anyway", tt.name)
		}
	}
}

func TestValidity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		want string
	}{
		{10 * time.Minute, "10\u00a0minutes"},
		{9*time.Minute + time.Second, "10\u00a0minutes"},
		{30 * time.Second, "1\u00a0minute"},
		{time.Minute, "1\u00a0minute"},
		{2 * time.Minute, "2\u00a0minutes"},
		{time.Hour, "1\u00a0heure"},
		{90 * time.Minute, "90\u00a0minutes"},
		{24 * time.Hour, "24\u00a0heures"},
	}
	for _, tt := range tests {
		if got := validity(tt.d); got != tt.want {
			t.Errorf("validity(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
