package reset

import (
	"context"
	"errors"
	"log/slog"
	"unicode/utf8"

	"github.com/region-nouvelle-aquitaine/idp/idp/password"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// PublishedPolicies are the rules the directory targets published
// (*job.Queue; ldapsync reads them from each directory's ppolicy).
type PublishedPolicies interface {
	Policies(ctx context.Context) ([]job.TargetPolicy, error)
}

// CombinedPolicy is the Policy made of the provider's own rules and those
// every directory target published: a password the page accepts is one no
// target should refuse for its length.
type CombinedPolicy struct {
	own     password.Policy
	targets PublishedPolicies // nil: none
	log     *slog.Logger
}

// NewPolicy combines the provider's rules (12 characters at least, 15 when
// strict, the blocklist; nil blocklist: the built-in one) with what the
// targets publish (nil: nothing). log: nil discards.
func NewPolicy(strict bool, blocklist *password.Blocklist, targets PublishedPolicies, log *slog.Logger) *CombinedPolicy {
	if blocklist == nil {
		blocklist = password.LoadBlocklist()
	}
	own := password.DefaultPolicy(blocklist)
	if strict {
		own = password.StrictPolicy(blocklist)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &CombinedPolicy{own: own, targets: targets, log: log}
}

func (p *CombinedPolicy) published(ctx context.Context) []job.TargetPolicy {
	if p.targets == nil {
		return nil
	}
	ps, err := p.targets.Policies(ctx)
	if err != nil {
		// The queue shares this Redis: the change itself will fail if it
		// is really down. Until then the provider's own rules still hold.
		p.log.WarnContext(ctx, "directory policies unreadable; only the provider's rules are checked", "err", err)
		return nil
	}
	return ps
}

// Lengths is the strictest of all: the page shows what every target takes.
func (p *CombinedPolicy) Lengths(ctx context.Context) (lo, hi int) {
	lo, hi = p.own.Lengths()
	for _, t := range p.published(ctx) {
		lo = max(lo, t.MinLength)
		if t.MaxLength > 0 {
			hi = min(hi, t.MaxLength)
		}
	}
	return lo, hi
}

// Check returns the page's problem with pw, or views.PasswordOK.
func (p *CombinedPolicy) Check(ctx context.Context, pw string, context ...string) views.PasswordProblem {
	if problem := p.checkOwn(pw, context...); problem != views.PasswordOK {
		return problem
	}
	// ppolicy counts bytes; asking for as many characters is never less.
	for _, t := range p.published(ctx) {
		switch {
		case utf8.RuneCountInString(pw) < t.MinLength:
			return views.PasswordTooShort
		case t.MaxLength > 0 && len(pw) > t.MaxLength:
			return views.PasswordTooLong
		}
	}
	return views.PasswordOK
}

func (p *CombinedPolicy) checkOwn(pw string, context ...string) views.PasswordProblem {
	err := p.own.Check(pw, context...)
	if err == nil {
		return views.PasswordOK
	}
	var r *password.Rejection
	if !errors.As(err, &r) {
		return views.PasswordRefused
	}
	switch r.Reason {
	case password.Empty:
		return views.PasswordMissing
	case password.InvalidUTF8, password.ControlChars:
		return views.PasswordInvalidChars
	case password.TooShort:
		return views.PasswordTooShort
	case password.TooLong:
		return views.PasswordTooLong
	case password.ContainsContext:
		return views.PasswordContainsContext
	case password.Blocklisted:
		return views.PasswordBlocklisted
	}
	return views.PasswordRefused
}
