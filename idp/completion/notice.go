package completion

import (
	"context"
	"strings"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/views/email"
)

// NewNotice composes « Votre mot de passe a été modifié »: when the
// change was applied, the support contact, and a link to start a new
// « Mot de passe perdu » (publicURL followed by lostPasswordPath) for a
// person who did not make the change, and the « Données personnelles »
// page (privacyURL).
func NewNotice(publicURL, lostPasswordPath, supportURL, privacyURL string) Composer {
	resetURL := strings.TrimRight(publicURL, "/") + lostPasswordPath
	return func(ctx context.Context, at time.Time) (Mail, error) {
		m, err := email.RenderPasswordChanged(ctx, email.PasswordChanged{At: at, SupportURL: supportURL, ResetURL: resetURL, PrivacyURL: privacyURL})
		if err != nil {
			return Mail{}, err
		}
		return Mail{Subject: m.Subject, Text: m.Text, HTML: m.HTML}, nil
	}
}
