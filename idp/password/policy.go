package password

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/region-nouvelle-aquitaine/idp/idp/password/internal/fold"
)

// The allowed lengths, in code points.
const (
	DefaultMinLength = 12
	StrictMinLength  = 15
	DefaultMaxLength = 128
)

// Reason says why Check refused a password. The web tier words it (in
// French, in views); the String form is for logs and audit events.
type Reason int

const (
	_               Reason = iota
	Empty                  // nothing typed
	InvalidUTF8            // not UTF-8: a broken or forged request
	ControlChars           // a control character, line or paragraph separator, or noncharacter
	TooShort               // fewer than MinLength code points
	TooLong                // more than MaxLength code points
	ContainsContext        // contains the Région's name, the service's, or the person's uid or mail
	Blocklisted            // a common password or word, possibly decorated, or a short pattern repeated
)

func (r Reason) String() string {
	switch r {
	case Empty:
		return "empty"
	case InvalidUTF8:
		return "invalid_utf8"
	case ControlChars:
		return "control_chars"
	case TooShort:
		return "too_short"
	case TooLong:
		return "too_long"
	case ContainsContext:
		return "contains_context"
	case Blocklisted:
		return "blocklisted"
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// Rejection is the error Check returns. Neither its fields nor its Error
// text contain the password or any part of it, so it may be logged.
type Rejection struct {
	Reason Reason
	// Length is the password's length in code points (0 for InvalidUTF8).
	Length int
	// Min and Max are the policy's limits, so that the message can name
	// the rule.
	Min, Max int
	// Context is, for ContainsContext, the word found: one of the
	// caller's context strings as given, or the Région's spelling of a
	// built-in one ("Nouvelle-Aquitaine"). It is part of the password:
	// show it to the person, do not log it.
	Context string
}

func (r *Rejection) Error() string {
	switch r.Reason {
	case TooShort:
		return fmt.Sprintf("password refused: %s (%d code points, minimum %d)", r.Reason, r.Length, r.Min)
	case TooLong:
		return fmt.Sprintf("password refused: %s (%d code points, maximum %d)", r.Reason, r.Length, r.Max)
	}
	return "password refused: " + r.Reason.String()
}

// Policy is the password policy: length, blocklist and context words. The zero MinLength and
// MaxLength mean DefaultMinLength and DefaultMaxLength; Blocklist must be
// set (LoadBlocklist). A Policy is a value: copy it freely, the copies
// share the blocklist.
type Policy struct {
	MinLength int // 12 by default, 15 in strict mode
	MaxLength int // at least 128
	Blocklist *Blocklist
}

// DefaultPolicy is the Région's policy: 12 to 128 code points.
func DefaultPolicy(b *Blocklist) Policy {
	return Policy{MinLength: DefaultMinLength, MaxLength: DefaultMaxLength, Blocklist: b}
}

// StrictPolicy is the "strict" setting: 15 to 128 code points, as NIST
// SP 800-63B rev. 4 asks when the password is the only factor.
func StrictPolicy(b *Blocklist) Policy {
	return Policy{MinLength: StrictMinLength, MaxLength: DefaultMaxLength, Blocklist: b}
}

func (p Policy) withDefaults() Policy {
	if p.MinLength == 0 {
		p.MinLength = DefaultMinLength
	}
	if p.MaxLength == 0 {
		p.MaxLength = DefaultMaxLength
	}
	return p
}

// Lengths are the limits Check applies, defaults filled in: what the
// page's rules show.
func (p Policy) Lengths() (min, max int) {
	p = p.withDefaults()
	return p.MinLength, p.MaxLength
}

// Validate reports a policy weaker than the rules above: a minimum
// under 12, a maximum under 128 or under the minimum, no blocklist. The
// configuration calls it; Check applies whatever it is given.
func (p Policy) Validate() error {
	p = p.withDefaults()
	var errs []error
	if p.MinLength < DefaultMinLength {
		errs = append(errs, fmt.Errorf("password: MinLength %d is under %d", p.MinLength, DefaultMinLength))
	}
	if p.MaxLength < DefaultMaxLength || p.MaxLength < p.MinLength {
		errs = append(errs, fmt.Errorf("password: MaxLength %d must be at least %d and at least MinLength", p.MaxLength, DefaultMaxLength))
	}
	if p.Blocklist == nil {
		errs = append(errs, errors.New("password: no Blocklist"))
	}
	return errors.Join(errs...)
}

// Check returns nil if pw is acceptable as a new password, else a
// *Rejection saying why. context holds the person's own words: their uid
// and the local part of their mail (a whole address is cut at its last
// "@"); the Région's and the service's names are always checked.
//
// The password is taken as it is: never trimmed, truncated nor normalised
// (no NFKC), so login must not change it either. Its length is counted in
// code points: 12 emoji are 12, "👍🏽" (emoji and skin tone) is 2. Every
// printable character and every space is allowed, with no class rule.
//
// Comparisons with the blocklist and the context words are case-, accent-
// and compatibility-insensitive ("RÉGION", "region" and "ｒｅｇｉｏｎ" are
// alike) and, for context words, separator-insensitive ("Nouvelle
// Aquitaine", "nouvelle_aquitaine", "NouvelleAquitaine2024!").
//
// The checks, first failing one wins: Empty; TooLong when the bytes alone
// prove it (before any other work); InvalidUTF8; ControlChars; TooShort;
// TooLong; ContainsContext when the password contains a context word of at
// least 4 letters and digits; Blocklisted when the password is listed,
// or a listed entry of at least 4 code points once the password is cut
// anywhere in its trailing run of non-letters (digits, symbols, spaces,
// emoji), with or without its leading run, and the same again with
// spaces and symbols removed ("azertyuiop12", "!Motdepasse1", "mot de
// passe 2024"), or when it repeats a pattern of at most 4 code points
// ("abababababab"). Letters are never cut, so a passphrase ("correct horse
// battery staple") is only compared whole.
//
// Check panics if p.Blocklist is nil: a policy without a blocklist is a
// wiring error, not a reason to accept common passwords.
func (p Policy) Check(pw string, context ...string) error {
	if p.Blocklist == nil {
		panic("password: Policy.Blocklist is nil; use LoadBlocklist")
	}
	p = p.withDefaults()
	reject := func(r Reason, n int) error {
		return &Rejection{Reason: r, Length: n, Min: p.MinLength, Max: p.MaxLength}
	}
	if pw == "" {
		return reject(Empty, 0)
	}
	if len(pw) > utf8.UTFMax*p.MaxLength {
		return reject(TooLong, utf8.RuneCountInString(pw))
	}
	if !utf8.ValidString(pw) {
		return reject(InvalidUTF8, 0)
	}
	n := 0
	for _, r := range pw {
		if forbidden(r) {
			return reject(ControlChars, utf8.RuneCountInString(pw))
		}
		n++
	}
	if n < p.MinLength {
		return reject(TooShort, n)
	}
	if n > p.MaxLength {
		return reject(TooLong, n)
	}
	key := fold.Key(pw)
	if w, ok := containsContext(key, context); ok {
		r := reject(ContainsContext, n).(*Rejection)
		r.Context = w
		return r
	}
	if repeats(key) || p.Blocklist.matches(key) {
		return reject(Blocklisted, n)
	}
	return nil
}

// forbidden: what no keyboard types into a password field and what a
// directory or a log could mangle: C0 and C1 controls and DEL (tab and
// newline included), the line and paragraph separators, and Unicode
// noncharacters. Format characters (Cf) stay allowed: the zero-width
// joiner builds emoji such as "👩‍💻".
func forbidden(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' ||
		r&0xFFFE == 0xFFFE || (r >= 0xFDD0 && r <= 0xFDEF)
}

func isLetter(r rune) bool { return unicode.IsLetter(r) }

// contextWord is a built-in context word: its spelling for
// Rejection.Context, and its letters and digits folded.
type contextWord struct{ display, form string }

// builtinContext is the Région's and the service's names. "Aquitaine"
// alone is the former region's name, and a part of the current one.
// The forms are fold.Alnum(fold.Key(display)), written out (a test checks
// them) so that Check does not fold them on every call.
func builtinContext() [4]contextWord {
	return [...]contextWord{
		{"Région", "region"},
		{"Nouvelle-Aquitaine", "nouvelleaquitaine"},
		{"Aquitaine", "aquitaine"},
		{"Mes Démarches", "mesdemarches"},
	}
}

// containsContext looks for the context words (the built-in ones and the
// caller's) in the letters and digits of key, so that separators, case
// and accents do not matter. A word counts by its letters and digits
// ("jean.dupont" → "jeandupont") and, when it has digits, also by its
// letters alone ("jdupont33" → "jdupont"); a form shorter than fold.MinWord
// is ignored ("Lé" would match too many passwords). The longest match is
// reported.
func containsContext(key string, context []string) (string, bool) {
	skel := fold.Alnum(key)
	best, bestLen := "", 0
	try := func(display, form string) {
		if len(form) > bestLen && utf8.RuneCountInString(form) >= fold.MinWord && strings.Contains(skel, form) {
			best, bestLen = display, len(form)
		}
	}
	for _, w := range builtinContext() {
		try(w.display, w.form)
	}
	for _, w := range context {
		form := w
		if i := strings.LastIndexByte(form, '@'); i >= 0 {
			form = form[:i]
		}
		k := fold.Key(form)
		try(w, fold.Alnum(k))
		try(w, fold.Letters(k))
	}
	return best, bestLen > 0
}

// repeats reports whether s is a pattern of 1 to 4 code points repeated
// (the last repetition may be partial): "aaaaaaaaaaaa", "abababababab",
// "azeazeazeaze", "1234123412341234". NIST SP 800-63B names repetitive
// passwords among those to refuse; no list can hold them all.
func repeats(s string) bool {
	rs := []rune(s)
	for period := 1; period <= 4 && 2*period <= len(rs); period++ {
		i := period
		for i < len(rs) && rs[i] == rs[i-period] {
			i++
		}
		if i == len(rs) {
			return true
		}
	}
	return false
}
