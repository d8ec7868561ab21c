package completion_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/completion"
)

func TestNewNotice(t *testing.T) {
	at := time.Date(2026, 7, 14, 8, 30, 0, 0, time.UTC) // 10:30 in Paris
	for _, c := range []struct {
		name                     string
		publicURL, path, support string
		privacy                  string
		wantErr                  bool
		wantReset                string
	}{
		{name: "public URL with a slash", publicURL: "https://idp.example/", path: "/mot-de-passe-perdu", support: "https://support.example/aide", privacy: "https://idp.example/donnees-personnelles", wantReset: "https://idp.example/mot-de-passe-perdu"},
		{name: "public URL under a path", publicURL: "https://example.org/idp", path: "/mot-de-passe-perdu", support: "https://support.example/aide", privacy: "https://example.org/idp/donnees-personnelles", wantReset: "https://example.org/idp/mot-de-passe-perdu"},
		{name: "no support contact", publicURL: "https://idp.example", path: "/mot-de-passe-perdu", support: "", privacy: "https://idp.example/donnees-personnelles", wantErr: true},
		{name: "no personal-data page", publicURL: "https://idp.example", path: "/mot-de-passe-perdu", support: "https://support.example/aide", wantErr: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := completion.NewNotice(c.publicURL, c.path, c.support, c.privacy)(context.Background(), at)
			if (err != nil) != c.wantErr {
				t.Fatalf("compose: %v, want error %v", err, c.wantErr)
			}
			if c.wantErr {
				return
			}
			if m.Subject != "Votre mot de passe a été modifié" || m.To != "" {
				t.Errorf("subject %q, to %q", m.Subject, m.To)
			}
			text := strings.ReplaceAll(m.Text, "\r\n", "\n")
			for _, want := range []string{"\n" + c.wantReset + "\n", "\n" + c.support + "\n", "\n" + c.privacy + "\n", "14 juillet 2026", "(heure de Paris)"} {
				if !strings.Contains(text, want) {
					t.Errorf("the text lacks %q:\n%s", want, text)
				}
			}
			if !strings.Contains(m.HTML, `href="`+c.wantReset+`"`) {
				t.Errorf("the HTML lacks the reset link:\n%s", m.HTML)
			}
		})
	}
}
