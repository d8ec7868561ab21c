package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/completion"
	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
	"github.com/region-nouvelle-aquitaine/idp/idp/reset"
	"github.com/region-nouvelle-aquitaine/idp/idp/server"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/views/email"
)

// completionConsumer builds what reacts to settled password changes:
// sessions and tokens revoked, the notice mailed, the audit event.
func completionConsumer(cfg *config.Config, d Deps, st *store.Store, outbox reset.Outbox, forget completion.Throttle) (func(context.Context) error, error) {
	people, ok := d.Accounts.(completion.People)
	if !ok {
		// Only builds without a directory for « Mot de passe perdu » (tests
		// of other parts): sessions still end, the notice has no address.
		d.Log.Warn("completion: the directory cannot find an account by subject; no notice will be sent after a password change")
		people = nobody{}
	}
	support := cmp.Or(cfg.SupportURL, cfg.Reset.SupportURL)
	if support == "" {
		return nil, errors.New("support_url is required: the mail sent after a password change gives the support contact")
	}
	resetURL := strings.TrimRight(cfg.PublicURL, "/") + server.LostPasswordPath
	compose := func(ctx context.Context, at time.Time) (completion.Mail, error) {
		m, err := email.RenderPasswordChanged(ctx, email.PasswordChanged{At: at, SupportURL: support, ResetURL: resetURL})
		return completion.Mail{Subject: m.Subject, Text: m.Text, HTML: m.HTML}, err
	}
	q := job.NewQueue(job.Options{Client: d.Redis, Prefix: cfg.Redis.KeyPrefix, Now: d.Now})
	cc := completion.Config{
		Client: d.Redis, Stream: q.EventsStream(), Prefix: cfg.Redis.KeyPrefix,
		Sessions: st, People: people, Outbox: completionOutbox{outbox}, Compose: compose,
		Throttle: forget,
		Now:      d.Now, Log: d.Log,
	}
	if d.CompletionTweak != nil {
		d.CompletionTweak(&cc)
	}
	c, err := completion.New(cc)
	if err != nil {
		return nil, fmt.Errorf("completion consumer: %w", err)
	}
	return c.Run, nil
}

type completionOutbox struct{ reset.Outbox }

func (o completionOutbox) Enqueue(ctx context.Context, m completion.Mail) error {
	return o.Outbox.Enqueue(ctx, reset.Mail{To: m.To, Subject: m.Subject, Text: m.Text, HTML: m.HTML})
}

// nobody finds no account.
type nobody struct{}

func (nobody) FindBySubject(context.Context, string) (ldapauth.User, bool, error) {
	return ldapauth.User{}, false, nil
}
