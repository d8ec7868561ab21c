// Package fold computes the comparison keys of idp/password: the form in
// which passwords, blocklist entries and context words are compared. Keys
// are for comparison only; the password itself is never normalised (what
// the person typed is what the directory stores and what login compares).
//
// The generator (idp/password/gen) writes the blocklist already folded with
// Key, so the runtime and the data file cannot disagree.
package fold

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MinWord is the shortest blocklist entry or context word, in code points,
// that is ever compared: shorter ones would match by accident inside
// unrelated passwords.
const MinWord = 4

// Key is s lower-cased, with accents and other nonspacing marks removed and
// compatibility characters decomposed (NFKD: "ﬁ" → "fi", fullwidth "Ａ" →
// "a", "²" → "2", "…" → "..."), and the French ligatures œ and æ spelt out:
// "Région" and "REGION" have the same key, "cœur" and "coeur" too.
func Key(s string) string {
	if isASCII(s) {
		return strings.ToLower(s)
	}
	// Decompose first, so that a capital with an accent ("É", "İ") loses
	// its mark before lower-casing; NFKD may also bring capitals of its
	// own ("ℌ" → "H", "Ⅻ" → "XII"). norm.NFKD.String returns s itself
	// when it is already decomposed.
	s = strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mn, r) {
			return -1
		}
		return unicode.ToLower(r)
	}, norm.NFKD.String(s))
	if strings.ContainsAny(s, "œæß") {
		s = strings.NewReplacer("œ", "oe", "æ", "ae", "ß", "ss").Replace(s)
	}
	return s
}

// Alnum keeps the letters and digits of s, in order: "nouvelle-aquitaine
// 2024!" → "nouvelleaquitaine2024".
func Alnum(s string) string {
	return keepOnly(s, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) })
}

// Letters keeps the letters of s, in order: "jdupont33" → "jdupont".
func Letters(s string) string {
	return keepOnly(s, unicode.IsLetter)
}

func keepOnly(s string, keep func(rune) bool) string {
	for i, r := range s {
		if !keep(r) {
			var b strings.Builder
			b.Grow(len(s))
			b.WriteString(s[:i])
			for _, r := range s[i:] {
				if keep(r) {
					b.WriteRune(r)
				}
			}
			return b.String()
		}
	}
	return s
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
