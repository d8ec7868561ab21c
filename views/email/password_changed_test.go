package email

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var changedProps = PasswordChanged{
	At:         time.Date(2025, time.June, 3, 12, 5, 0, 0, time.UTC), // 14 h 05 in Paris (summer time)
	SupportURL: "https://mesdemarches.nouvelle-aquitaine.fr/support?a=1&b=2",
	ResetURL:   "https://connexion.mesdemarches.nouvelle-aquitaine.fr/mot-de-passe-perdu",
	PrivacyURL: "https://connexion.mesdemarches.nouvelle-aquitaine.fr/donnees-personnelles",
}

// TestPasswordChangedGolden pins both parts byte for byte (UPDATE_GOLDEN=1
// go test ./views/email after a deliberate change of wording).
func TestPasswordChangedGolden(t *testing.T) {
	t.Parallel()
	m, err := RenderPasswordChanged(context.Background(), changedProps)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Votre mot de passe a été modifié" {
		t.Errorf("subject = %q", m.Subject)
	}
	for _, part := range []struct{ file, got string }{
		{"password_changed.html.golden", m.HTML},
		{"password_changed.txt.golden", m.Text},
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

func TestPasswordChangedBothPartsSayTheSame(t *testing.T) {
	t.Parallel()
	m, err := RenderPasswordChanged(context.Background(), changedProps)
	if err != nil {
		t.Fatal(err)
	}
	htmlText, text := visibleText(m.HTML), spaces.ReplaceAllString(m.Text, " ")
	for _, s := range []string{
		"Ce message a été généré automatiquement - merci de ne pas y répondre.",
		"Le mot de passe de votre compte a été modifié le mardi 3 juin 2025 à 14\u00a0h\u00a005 (heure de Paris).",
		"toutes vos connexions en cours ont été fermées",
		"Si vous n’êtes pas à l’origine de ce changement",
		"choisissez sans attendre un nouveau mot de passe",
		"prévenez le support",
		"Bonne continuation,",
		"L’équipe technique de la Région Nouvelle-Aquitaine",
		"Vous recevez ce courriel parce que le mot de passe du compte «\u00a0Mes démarches en Nouvelle-Aquitaine\u00a0» associé à cette adresse électronique a été modifié.",
		"Ce courriel est envoyé par une adresse qui ne reçoit pas les réponses.",
		"https://connexion.mesdemarches.nouvelle-aquitaine.fr/donnees-personnelles",
		"14 rue François de Sourdis",
	} {
		if !strings.Contains(htmlText, s) {
			t.Errorf("HTML part lacks %q", s)
		}
		if !strings.Contains(text, s) {
			t.Errorf("text part lacks %q", s)
		}
	}
	for _, link := range []string{changedProps.ResetURL, changedProps.SupportURL} {
		if !strings.Contains(m.Text, "\n"+link+"\n") {
			t.Errorf("text part does not give %s on its own line", link)
		}
		if !strings.Contains(m.HTML, `href="`+strings.ReplaceAll(link, "&", "&amp;")+`"`) {
			t.Errorf("HTML part does not link %s", link)
		}
	}
	for _, want := range []string{`<html lang="fr">`, `lang="fr" dir="ltr"`, `<title>Votre mot de passe a été modifié</title>`} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("HTML lacks %s", want)
		}
	}
	for name, part := range map[string]string{"HTML": m.HTML, "text": m.Text} {
		for _, bad := range []string{"'", "ALPC", "<script", "<img", "Sourdais", "vous pouvez ignorer"} {
			if strings.Contains(part, bad) {
				t.Errorf("%s part contains %q", name, bad)
			}
		}
	}
}

func TestRenderPasswordChangedRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*PasswordChanged)
		want string
	}{
		{"no date", func(p *PasswordChanged) { p.At = time.Time{} }, "no date"},
		{"no support", func(p *PasswordChanged) { p.SupportURL = "" }, "support URL"},
		{"script support", func(p *PasswordChanged) { p.SupportURL = "javascript:alert(1)" }, "support URL"},
		{"relative reset", func(p *PasswordChanged) { p.ResetURL = "/mot-de-passe-perdu" }, "reset URL"},
	}
	for _, tt := range tests {
		p := changedProps
		tt.edit(&p)
		m, err := RenderPasswordChanged(context.Background(), p)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
		if m != (Mail{}) {
			t.Errorf("%s: a mail was rendered anyway", tt.name)
		}
	}
}

func TestFrenchDateTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		at   time.Time
		want string
	}{
		{time.Date(2025, time.June, 3, 12, 5, 0, 0, time.UTC), "le mardi 3 juin 2025 à 14\u00a0h\u00a005"},          // CEST, UTC+2
		{time.Date(2025, time.January, 1, 8, 0, 0, 0, time.UTC), "le mercredi 1er janvier 2025 à 9\u00a0h\u00a000"}, // CET, UTC+1
		{time.Date(2025, time.August, 31, 22, 30, 0, 0, time.UTC), "le lundi 1er septembre 2025 à 0\u00a0h\u00a030"},
		{time.Date(2025, time.December, 13, 23, 59, 0, 0, time.FixedZone("X", 3600)), "le samedi 13 décembre 2025 à 23\u00a0h\u00a059"},
	}
	for _, tt := range tests {
		got, err := frenchDateTime(tt.at)
		if err != nil || got != tt.want {
			t.Errorf("frenchDateTime(%s) = %q, %v; want %q", tt.at, got, err, tt.want)
		}
	}
}

func TestPasswordChangedAxe(t *testing.T) {
	t.Parallel()
	m, err := RenderPasswordChanged(context.Background(), changedProps)
	if err != nil {
		t.Fatal(err)
	}
	axeCheck(t, m.HTML)
}
