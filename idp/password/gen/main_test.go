package main

import (
	"strings"
	"testing"
)

func TestKeep(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"azertyuiop", true},
		{"abc", false},                    // shorter than fold.MinWord
		{"abcd", true},                    // a stem: "abcd12345678"
		{"123456", false},                 // no letter, shorter than any password
		{"123456789012", true},            // no letter, a whole password
		{"1qaz2wsx", true},                // letters and digits
		{"mot\tpasse", false},             // control character
		{strings.Repeat("a", 129), false}, // longer than any password
	} {
		if got := keep(tt.in); got != tt.want {
			t.Errorf("keep(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
