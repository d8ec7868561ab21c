package reset_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/region-nouvelle-aquitaine/idp/idp/password"
	"github.com/region-nouvelle-aquitaine/idp/idp/reset"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// published is what the directory targets published, or a failure to
// read it.
type published struct {
	policies []job.TargetPolicy
	err      error
}

func (p published) Policies(context.Context) ([]job.TargetPolicy, error) { return p.policies, p.err }

func TestCombinedPolicy(t *testing.T) {
	ctx := context.Background()
	blocklist := password.NewBlocklist([]string{"soleil"})
	targets := published{policies: []job.TargetPolicy{
		{Name: "usagers", MinLength: 14, MaxLength: 0},
		{Name: "ad", MinLength: 8, MaxLength: 20},
	}}
	for _, c := range []struct {
		name           string
		strict         bool
		targets        reset.PublishedPolicies
		pw             string
		want           views.PasswordProblem
		wantLo, wantHi int
	}{
		{name: "own rules only: 12 is enough", pw: "a-fine-phrase", want: views.PasswordOK, wantLo: 12, wantHi: 128},
		{name: "strict: 15", strict: true, pw: "a-fine-phrase", want: views.PasswordTooShort, wantLo: 15, wantHi: 128},
		{name: "empty", pw: "", want: views.PasswordMissing, wantLo: 12, wantHi: 128},
		{name: "control character", pw: "a-fine-phrase\x07x", want: views.PasswordInvalidChars, wantLo: 12, wantHi: 128},
		{name: "a pattern repeated", pw: "abcabcabcabcabc", want: views.PasswordBlocklisted, wantLo: 12, wantHi: 128},
		{name: "the person's login", pw: "jdupont-2026-ok", want: views.PasswordContainsContext, wantLo: 12, wantHi: 128},
		{name: "own too long", pw: strings.Repeat("azertyuiop", 13), want: views.PasswordTooLong, wantLo: 12, wantHi: 128},
		{name: "a target wants more", targets: targets, pw: "a-fine-phrase", want: views.PasswordTooShort, wantLo: 14, wantHi: 20},
		{name: "between every target's limits", targets: targets, pw: "a-fine-phrase-ok", want: views.PasswordOK, wantLo: 14, wantHi: 20},
		{name: "a target counts bytes", targets: targets, pw: "éléphant-rosé-été", want: views.PasswordTooLong, wantLo: 14, wantHi: 20},
		{name: "targets unreadable: own rules hold", targets: published{err: errors.New("redis down")}, pw: "a-fine-phrase", want: views.PasswordOK, wantLo: 12, wantHi: 128},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := reset.NewPolicy(c.strict, blocklist, c.targets, nil)
			if got := p.Check(ctx, c.pw, "jdupont"); got != c.want {
				t.Errorf("Check: %v, want %v", got, c.want)
			}
			if lo, hi := p.Lengths(ctx); lo != c.wantLo || hi != c.wantHi {
				t.Errorf("Lengths: %d..%d, want %d..%d", lo, hi, c.wantLo, c.wantHi)
			}
		})
	}
}
