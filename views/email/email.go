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
)

// Mail is a rendered mail: its subject and its two parts.
type Mail struct {
	Subject string
	Text    string // text/plain
	HTML    string // text/html
}

// ResetCode is the mail of step 4 of « Mot de passe perdu »: the security
// code and the « cliquer ici » link that both lead to the new password.
type ResetCode struct {
	// Code is the security code as the person types it, e.g. « T3A8XQ ».
	Code string
	// Link is the absolute http(s) URL of « cliquer ici », built from the
	// configured public URL only.
	Link string
	// Validity is how long the code and the link stay valid,
	// shown rounded up to the minute: « 10 minutes ».
	Validity time.Duration
	// PrivacyURL is the absolute http(s) URL of the « Données
	// personnelles » page that the legal notice points to.
	PrivacyURL string
}

// ResetCodeSubject is the subject of the ResetCode mail.
const ResetCodeSubject = "Validation du changement de mot de passe"

// RenderResetCode renders both parts of the ResetCode mail. It refuses
// props that would make a useless mail (no code, no valid link, no
// validity), so that such a mail is never queued.
func RenderResetCode(ctx context.Context, p ResetCode) (Mail, error) {
	if err := p.check(); err != nil {
		return Mail{}, err
	}
	var html bytes.Buffer
	if err := ResetCodeHTML(p).Render(ctx, &html); err != nil {
		return Mail{}, fmt.Errorf("email: render reset code HTML: %w", err)
	}
	return Mail{Subject: ResetCodeSubject, Text: ResetCodeText(p), HTML: html.String()}, nil
}

func (p ResetCode) check() error {
	var errs []error
	if strings.TrimSpace(p.Code) == "" {
		errs = append(errs, errors.New("no code"))
	}
	if u, err := url.Parse(p.Link); err != nil || !u.IsAbs() || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, errors.New("the link is not an absolute http(s) URL"))
	}
	if p.Validity <= 0 {
		errs = append(errs, errors.New("no validity"))
	}
	if !absoluteHTTP(p.PrivacyURL) {
		errs = append(errs, errors.New("the personal-data page's URL is not an absolute http(s) URL"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("email: reset code mail: %w", errors.Join(errs...))
	}
	return nil
}

// validity says a lifetime in French, rounded up to the minute, with a
// non-breaking space: « 10 minutes », « 1 heure », « 90 minutes ».
func validity(d time.Duration) string {
	m := int((d + time.Minute - 1) / time.Minute)
	switch {
	case m <= 1:
		return "1\u00a0minute"
	case m%60 == 0 && m == 60:
		return "1\u00a0heure"
	case m%60 == 0:
		return strconv.Itoa(m/60) + "\u00a0heures"
	default:
		return strconv.Itoa(m) + "\u00a0minutes"
	}
}
