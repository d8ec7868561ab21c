package app

import (
	"context"
	"fmt"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/mail"
	"github.com/region-nouvelle-aquitaine/idp/idp/reset"
	"github.com/region-nouvelle-aquitaine/idp/views/email"
)

// mailPipeline builds the durable outbox and its sender from the
// configuration (config.Load guarantees mail.host); dev mode brings its
// own outbox.
func mailPipeline(cfg *config.Config, d Deps, wm *webMetrics) (reset.Outbox, func(context.Context) error, error) {
	if d.Outbox != nil {
		return d.Outbox, func(ctx context.Context) error { <-ctx.Done(); return nil }, nil
	}
	key, previous, err := mail.DeriveKeys(cfg.Secrets.CryptoKey, cfg.Secrets.PreviousCryptoKeys)
	if err != nil {
		return nil, nil, err
	}
	m := cfg.Mail
	mc := mail.Config{
		Client: d.Redis, Prefix: cfg.Redis.KeyPrefix, Key: key, PreviousKeys: previous,
		SMTP: mail.SMTP{
			Host: m.Host, Port: m.Port, TLS: mail.TLSMode(m.TLS), Username: m.Username, Password: m.Password,
			CAFile: m.CAFile, HELO: m.HELO, Timeout: m.Timeout,
		},
		FromName: m.FromName, FromAddress: m.FromAddress, GiveUpAfter: m.GiveUpAfter, Now: d.Now,
	}
	if dk := m.DKIM; dk.PrivateKeyFile != "" {
		k, err := mail.LoadDKIMKey(dk.PrivateKeyFile)
		if err != nil {
			return nil, nil, err
		}
		mc.DKIM = &mail.DKIM{Domain: dk.Domain, Selector: dk.Selector, Key: k}
	}
	if wm != nil {
		mc.Metrics = wm
	}
	if d.MailTweak != nil {
		d.MailTweak(&mc)
	}
	ob, err := mail.NewOutbox(mc)
	if err != nil {
		return nil, nil, fmt.Errorf("mail outbox: %w", err)
	}
	if wm != nil {
		wm.MustRegister(outboxGauges(wm.Namespace, ob.Depth))
	}
	sender, err := mail.NewSender(mc, d.Log)
	if err != nil {
		return nil, nil, fmt.Errorf("mail sender: %w", err)
	}
	return outboxAdapter{ob}, sender.Run, nil
}

type outboxAdapter struct{ *mail.Outbox }

func (o outboxAdapter) Enqueue(ctx context.Context, m reset.Mail) error {
	return o.Outbox.Enqueue(ctx, mail.Message{To: m.To, Subject: m.Subject, Text: m.Text, HTML: m.HTML})
}

// composeResetMail renders the security code's mail; its legal notice
// points to privacyURL.
func composeResetMail(privacyURL string) func(ctx context.Context, code, link string, validity time.Duration) (string, string, string, error) {
	return func(ctx context.Context, code, link string, validity time.Duration) (string, string, string, error) {
		m, err := email.RenderResetCode(ctx, email.ResetCode{Code: code, Link: link, Validity: validity, PrivacyURL: privacyURL})
		return m.Subject, m.Text, m.HTML, err
	}
}
