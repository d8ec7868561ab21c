package email

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Europe/Paris even on a system without a zoneinfo database
)

// PasswordChanged is the mail sent after a password was written to the
// directory: when it changed, and what to do if the
// person did not do it.
type PasswordChanged struct {
	// At is when the directory applied the change; shown in Paris time.
	At time.Time
	// SupportURL is the support contact (configuration support_url).
	SupportURL string
	// ResetURL starts a new « Mot de passe perdu » (public URL +
	// /mot-de-passe-perdu).
	ResetURL string
	// PrivacyURL is the absolute http(s) URL of the « Données
	// personnelles » page that the legal notice points to.
	PrivacyURL string
}

// PasswordChangedSubject is the subject of the PasswordChanged mail.
const PasswordChangedSubject = "Votre mot de passe a été modifié"

// RenderPasswordChanged renders both parts of the PasswordChanged mail.
// It refuses props that would make a useless mail (no date, no valid
// support or reset URL).
func RenderPasswordChanged(ctx context.Context, p PasswordChanged) (Mail, error) {
	if err := p.check(); err != nil {
		return Mail{}, err
	}
	when, err := frenchDateTime(p.At)
	if err != nil {
		return Mail{}, err
	}
	var html bytes.Buffer
	if err := PasswordChangedHTML(p, when).Render(ctx, &html); err != nil {
		return Mail{}, fmt.Errorf("email: render password changed HTML: %w", err)
	}
	return Mail{Subject: PasswordChangedSubject, Text: PasswordChangedText(p, when), HTML: html.String()}, nil
}

func (p PasswordChanged) check() error {
	var errs []error
	if p.At.IsZero() {
		errs = append(errs, errors.New("no date"))
	}
	for name, link := range map[string]string{"support": p.SupportURL, "reset": p.ResetURL, "personal-data page": p.PrivacyURL} {
		if !absoluteHTTP(link) {
			errs = append(errs, fmt.Errorf("the %s URL is not an absolute http(s) URL", name))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("email: password changed mail: %w", errors.Join(errs...))
	}
	return nil
}

func absoluteHTTP(link string) bool {
	u, err := url.Parse(link)
	return err == nil && u.IsAbs() && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// frenchDateTime says t in Paris time, in French, with non-breaking
// spaces: « le mardi 3 juin 2025 à 14\u00a0h\u00a005 ».
func frenchDateTime(t time.Time) (string, error) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		return "", fmt.Errorf("email: time zone: %w", err)
	}
	t = t.In(paris)
	days := [...]string{"dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"}
	months := [...]string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"}
	day := strconv.Itoa(t.Day())
	if t.Day() == 1 {
		day = "1er"
	}
	return strings.Join([]string{
		"le", days[t.Weekday()], day, months[t.Month()-1], strconv.Itoa(t.Year()),
		fmt.Sprintf("à %d\u00a0h\u00a0%02d", t.Hour(), t.Minute()),
	}, " "), nil
}
