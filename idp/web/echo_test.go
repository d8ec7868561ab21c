package web

import "testing"

func TestEcho(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"jdupont", "jdupont"},
		{"élodie.martin@exemple.fr", "élodie.martin@exemple.fr"},
		{"Jean-Luc O’Brien", "Jean-Luc O’Brien"},
		{"jdupont\xff\xfe", ""},
		{"jdupont\ufffd", ""},
		{"jdupont\x00", ""},
		{"jdupont\x1b[31m", ""},
		{"jdupont\t", ""},
		{"jdupont\r\n", ""},
		{"jdupont\x7f", ""},
		{"jdupont\u0085", ""},
		{"a\u202eb", ""},
		{"a\u2066b\u2069", ""},
		{"jd\u200bupont", ""},
		{"\ufeffjdupont", ""},
	} {
		if got := Echo(tc.in); got != tc.want {
			t.Errorf("Echo(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
