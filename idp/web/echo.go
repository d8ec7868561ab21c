package web

import (
	"unicode"
	"unicode/utf8"
)

// Echo is s if it may go back into a form field as typed: valid UTF-8
// without control or format (bidi, zero-width) characters. Otherwise it
// is "", and the person types it again: a page never carries bytes that
// break it or text that reads other than it is. U+FFFD counts as broken:
// it is what invalid UTF-8 became on its way through JSON (the store).
func Echo(s string) string {
	if !utf8.ValidString(s) {
		return ""
	}
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return ""
		}
	}
	return s
}
