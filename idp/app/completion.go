package app

import (
	"context"
	"fmt"

	"github.com/region-nouvelle-aquitaine/idp/idp/backchannel"
	"github.com/region-nouvelle-aquitaine/idp/idp/completion"
	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
	"github.com/region-nouvelle-aquitaine/idp/idp/reset"
	"github.com/region-nouvelle-aquitaine/idp/idp/server"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
)

// completionConsumer wires what reacts to settled password changes
// (idp/completion): sessions and tokens revoked, the notice mailed, the
// failed sign-ins forgotten.
func completionConsumer(cfg *config.Config, d Deps, st *store.Store, q *job.Queue, outbox reset.Outbox, forget completion.Throttle, bc *backchannel.Notifier) (func(context.Context) error, error) {
	people, ok := d.Accounts.(completion.People)
	if !ok {
		// Only builds without a directory for « Mot de passe perdu » (tests
		// of other parts): sessions still end, the notice has no address.
		d.Log.Warn("completion: the directory cannot find an account by subject; no notice will be sent after a password change")
		people = nobody{}
	}
	cc := completion.Config{
		Client: d.Redis, Stream: q.EventsStream(), Prefix: cfg.Redis.KeyPrefix,
		Sessions: st, People: people, Outbox: completionOutbox{outbox},
		// support_url, by default the built-in support page.
		Compose:  completion.NewNotice(cfg.PublicURL, server.LostPasswordPath, siteSupportURL(cfg), mailPrivacyURL(cfg)),
		Throttle: forget,
		Now:      d.Now, Log: d.Log,
	}
	if bc != nil {
		cc.Backchannel = sessionsEnding{n: bc, st: st}
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
