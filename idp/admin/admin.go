// Package admin holds the web tier's operator commands (`idp admin …`):
// mails given up, an account's sign-in throttle, an account's sessions.
// Each operation is a function over the stores; Commands wires them to
// the command-line frame of idp/shared/queueadmin, which the password
// writer's `ldapsync admin changes …` shares.
package admin

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/audit"
	"github.com/region-nouvelle-aquitaine/idp/idp/login"
	"github.com/region-nouvelle-aquitaine/idp/idp/mail"
	"github.com/region-nouvelle-aquitaine/idp/idp/provider"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/queueadmin"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/throttle"
)

// Deps are the stores the commands act on, opened from the provider's
// configuration file.
type Deps struct {
	Store  *store.Store
	Outbox *mail.Outbox
	// Throttle is nil when the configuration switches it off.
	Throttle *throttle.Limiter
	// Identifiers hashes a typed login as sign-in does (secrets.cookie_key).
	Identifiers audit.Identifiers
	// FindSubject resolves a login through the directory; nil when the
	// directory cannot be used.
	FindSubject func(ctx context.Context, login string) (subject string, found bool, err error)
	// Keys is the provider's signing key ring; nil in the reset-only mode.
	Keys *provider.Keyring
}

// Audit events of the state-changing commands.
const (
	EventMailResent      = "admin.mail.resent"
	EventMailDropped     = "admin.mail.dropped"
	EventThrottleCleared = "admin.throttle.cleared"
	EventSessionEnded    = "admin.session.ended"
	EventSessionsEnded   = "admin.sessions.ended"
)

type (
	command = queueadmin.Command[*Deps]
	call    = queueadmin.Call
)

// Commands are `idp admin …`.
func Commands() []command {
	var limit int64
	var subject, loginName string
	account := func(fs *flag.FlagSet) {
		fs.StringVar(&subject, "subject", "", "the account's subject (sub)")
		fs.StringVar(&loginName, "login", "", "the account's login, resolved to its subject through the directory")
	}
	sub := func(ctx context.Context, d *Deps) (string, error) {
		return resolveSubject(ctx, d, subject, loginName)
	}
	return append([]command{
		{
			Name: "mails list", Summary: "list the mails given up (no recipient, no content)",
			Flags: func(fs *flag.FlagSet) { fs.Int64Var(&limit, "limit", 100, "at most this many, newest first (0: all)") },
			Run:   func(ctx context.Context, d *Deps, c *call) error { return ListMails(ctx, d.Outbox, c.Out, limit) },
		},
		{
			Name: "mails resend", Changes: true, Args: []string{"ID"}, Summary: "queue a mail given up again, as it was",
			Run: func(ctx context.Context, d *Deps, c *call) error { return ResendMail(ctx, d.Outbox, c, c.Args[0]) },
		},
		{
			Name: "mails drop", Changes: true, Args: []string{"ID"}, Summary: "delete a mail given up, for good",
			Run: func(ctx context.Context, d *Deps, c *call) error { return DropMail(ctx, d.Outbox, c, c.Args[0]) },
		},
		{
			Name: "throttle show", Args: []string{"LOGIN"}, Summary: "show the failed sign-ins, delay and lock of what a person types as login",
			Run: func(ctx context.Context, d *Deps, c *call) error { return ShowThrottle(ctx, d, c.Out, c.Args[0]) },
		},
		{
			Name: "throttle clear", Changes: true, Args: []string{"LOGIN"}, Summary: "forget the failed sign-ins of a typed login (and of its account, with --subject)",
			Flags: func(fs *flag.FlagSet) {
				fs.StringVar(&subject, "subject", "", "also clear the account's own ceiling (sub)")
			},
			Run: func(ctx context.Context, d *Deps, c *call) error {
				return ClearThrottle(ctx, d, c, c.Args[0], subject)
			},
		},
		{
			Name: "sessions list", Summary: "list an account's sessions and refresh tokens (--subject or --login)",
			Flags: account,
			Run: func(ctx context.Context, d *Deps, c *call) error {
				s, err := sub(ctx, d)
				if err != nil {
					return err
				}
				return ListSessions(ctx, d.Store, c.Out, s)
			},
		},
		{
			Name: "sessions end", Changes: true, Args: []string{"REF"}, Summary: "end one session (REF from sessions list) and its refresh tokens",
			Flags: account,
			Run: func(ctx context.Context, d *Deps, c *call) error {
				s, err := sub(ctx, d)
				if err != nil {
					return err
				}
				return EndSession(ctx, d.Store, c, s, c.Args[0])
			},
		},
		{
			Name: "sessions end-all", Changes: true, Summary: "end every session, refresh and access token of an account",
			Flags: account,
			Run: func(ctx context.Context, d *Deps, c *call) error {
				s, err := sub(ctx, d)
				if err != nil {
					return err
				}
				return EndAllSessions(ctx, d.Store, c, s)
			},
		},
	}, keyCommands()...)
}

func resolveSubject(ctx context.Context, d *Deps, subject, loginName string) (string, error) {
	switch {
	case (subject == "") == (loginName == ""):
		return "", queueadmin.UsageError{Msg: "give the account with exactly one of --subject SUB or --login LOGIN"}
	case subject != "":
		return subject, nil
	case d.FindSubject == nil:
		return "", errors.New("--login needs the directory, which this configuration does not reach; use --subject")
	}
	s, found, err := d.FindSubject(ctx, loginName)
	if err != nil {
		return "", fmt.Errorf("find %q in the directory: %w", loginName, err)
	}
	if !found {
		return "", fmt.Errorf("the directory has no account %q", loginName)
	}
	return s, nil
}

const timeFormat = "2006-01-02 15:04:05Z07:00"

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(timeFormat)
}

// ListMails prints the dead letters, without recipient or content.
func ListMails(ctx context.Context, o *mail.Outbox, w io.Writer, limit int64) error {
	dl, err := o.DeadLetters(ctx, limit)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Mails given up: %d\n", len(dl))
	for _, d := range dl {
		fmt.Fprintf(w, "  %s  queued=%s  given_up=%s  attempts=%d  reason=%q\n", d.ID, when(d.Enqueued), when(d.FailedAt), d.Attempts, d.Reason)
	}
	return nil
}

// ResendMail queues a dead letter again (still sealed; see
// mail.Outbox.Resend).
func ResendMail(ctx context.Context, o *mail.Outbox, c *call, id string) error {
	entry, err := o.Resend(ctx, id)
	if errors.Is(err, mail.ErrNoDeadLetter) {
		return fmt.Errorf("no mail given up with id %s (see mails list)", id)
	}
	if err != nil {
		return err
	}
	c.Audit.Record(ctx, EventMailResent, slog.String("dead_letter", id), slog.String("entry", entry))
	fmt.Fprintf(c.Out, "Queued mail %s again as outbox entry %s; the running idp sends it within seconds.\n", id, entry)
	return nil
}

// DropMail deletes a dead letter.
func DropMail(ctx context.Context, o *mail.Outbox, c *call, id string) error {
	err := o.DropDeadLetter(ctx, id)
	if errors.Is(err, mail.ErrNoDeadLetter) {
		return fmt.Errorf("no mail given up with id %s (see mails list)", id)
	}
	if err != nil {
		return err
	}
	c.Audit.Record(ctx, EventMailDropped, slog.String("dead_letter", id))
	fmt.Fprintf(c.Out, "Deleted mail %s for good; it will not be sent.\n", id)
	return nil
}

func describe(st throttle.CounterState) string {
	s := fmt.Sprintf("failures=%d", st.Failures)
	if !st.LastFailure.IsZero() {
		s += " last=" + when(st.LastFailure)
	}
	switch st.Block.Kind {
	case throttle.Lock:
		s += " locked_until=" + when(st.Block.Until)
	case throttle.Delay:
		s += " delayed_until=" + when(st.Block.Until)
	default:
		s += " not held back"
	}
	return s
}

func limiter(d *Deps) (*throttle.Limiter, error) {
	if d.Throttle == nil {
		return nil, errors.New("the throttle is switched off in this configuration: nothing is counted")
	}
	return d.Throttle, nil
}

// ShowThrottle prints the counter of a typed login (hashed as sign-in
// hashes it) and, when the directory knows it, the account's ceiling.
func ShowThrottle(ctx context.Context, d *Deps, w io.Writer, typed string) error {
	l, err := limiter(d)
	if err != nil {
		return err
	}
	st, err := l.State(ctx, throttle.IdentifierKey(d.Identifiers.Hash(typed)))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "login %q (as typed; other spellings count apart): %s\n", audit.Normalize(typed), describe(st))
	if d.FindSubject != nil {
		if sub, found, err := d.FindSubject(ctx, typed); err == nil && found {
			acc, err := l.State(ctx, throttle.AccountKey(sub))
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "account %s, all logins together: %s\n", sub, describe(acc))
		}
	}
	return nil
}

// ClearThrottle forgets the failures of a typed login and, with a
// subject, the account's ceiling.
func ClearThrottle(ctx context.Context, d *Deps, c *call, typed, subject string) error {
	l, err := limiter(d)
	if err != nil {
		return err
	}
	keys := []string{throttle.IdentifierKey(d.Identifiers.Hash(typed))}
	if subject != "" {
		keys = append(keys, throttle.AccountKey(subject))
	}
	if err := l.Forget(ctx, keys...); err != nil {
		return err
	}
	c.Audit.Record(ctx, EventThrottleCleared, slog.String("identifier", d.Identifiers.Hash(typed)), slog.String("sub", subject))
	fmt.Fprintf(c.Out, "Cleared the failed sign-ins of login %q", audit.Normalize(typed))
	if subject != "" {
		fmt.Fprintf(c.Out, " and of account %s", subject)
	}
	fmt.Fprintln(c.Out, "; the next sign-in is not held back.")
	return nil
}

// ListSessions prints subject's live sessions and refresh families.
func ListSessions(ctx context.Context, st *store.Store, w io.Writer, subject string) error {
	refs, err := st.SessionsOf(ctx, subject)
	if err != nil {
		return err
	}
	fams, err := st.RefreshFamiliesOf(ctx, subject)
	if err != nil {
		return err
	}
	bySession := map[string][]*store.RefreshToken{}
	for _, f := range fams {
		rt, err := st.RefreshFamily(ctx, f)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		bySession[rt.SessionID] = append(bySession[rt.SessionID], rt)
	}
	fmt.Fprintf(w, "Sessions of %s: %d\n", subject, len(refs))
	for _, ref := range refs {
		s, err := st.SessionByRef(ctx, ref)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  %s  created=%s  last_seen=%s  expires=%s  clients=%s  refresh_tokens=%d\n",
			ref, when(s.CreatedAt), when(s.LastSeen), when(s.ExpiresAt), orDash(strings.Join(s.Clients, ",")), len(bySession[ref]))
	}
	fmt.Fprintf(w, "Refresh tokens of %s: %d\n", subject, len(fams))
	for ref, rts := range bySession {
		for _, rt := range rts {
			fmt.Fprintf(w, "  family %s  client=%s  created=%s  expires=%s  session=%s\n",
				rt.FamilyID, rt.ClientID, when(rt.CreatedAt), when(rt.ExpiresAt), orDash(ref))
		}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// EndSession ends one of subject's sessions, by Ref, with the refresh
// families obtained through it, as logout does (login.RevokeSessionFamilies).
func EndSession(ctx context.Context, st *store.Store, c *call, subject, ref string) error {
	s, err := st.SessionByRef(ctx, ref)
	if errors.Is(err, store.ErrNotFound) || (err == nil && s.Subject != subject) {
		return fmt.Errorf("%s has no live session %s (see sessions list)", subject, ref)
	}
	if err != nil {
		return err
	}
	revoked, err := login.RevokeSessionFamilies(ctx, st, subject, ref)
	if err != nil {
		return err
	}
	if err := st.DeleteSessionByRef(ctx, ref); err != nil {
		return err
	}
	c.Audit.Record(ctx, EventSessionEnded, slog.String("sub", subject), slog.String("session", ref), slog.Int("refresh_families", len(revoked)))
	fmt.Fprintf(c.Out, "Ended session %s of %s and revoked %d refresh token family(ies); its browser must sign in again.\n", ref, subject, len(revoked))
	return nil
}

// EndAllSessions ends every session, refresh family and access token of
// subject, as a written password change does (store.RevokeSubject).
func EndAllSessions(ctx context.Context, st *store.Store, c *call, subject string) error {
	refs, err := st.SessionsOf(ctx, subject)
	if err != nil {
		return err
	}
	fams, err := st.RefreshFamiliesOf(ctx, subject)
	if err != nil {
		return err
	}
	if err := st.RevokeSubject(ctx, subject, ""); err != nil {
		return err
	}
	c.Audit.Record(ctx, EventSessionsEnded, slog.String("sub", subject), slog.Int("sessions", len(refs)), slog.Int("refresh_families", len(fams)))
	fmt.Fprintf(c.Out, "Ended %d session(s) of %s and revoked %d refresh token family(ies) and every access token; every browser and site must sign in again.\n", len(refs), subject, len(fams))
	return nil
}
