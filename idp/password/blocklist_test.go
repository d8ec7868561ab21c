package password_test

import (
	"runtime"
	"testing"
	"unicode/utf8"

	"github.com/region-nouvelle-aquitaine/idp/idp/password"
	"github.com/region-nouvelle-aquitaine/idp/idp/password/internal/fold"
)

// The shipped list: at least 10 000 entries, each in the form the
// runtime compares, and what it costs.
func TestShippedBlocklist(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	bl := password.LoadBlocklist()
	n := bl.Len()
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("blocklist: %d entries, %d bytes held (data + offsets), heap grew by %d bytes",
		n, bl.Footprint(), int64(after.HeapAlloc)-int64(before.HeapAlloc))
	if n < 10_000 {
		t.Fatalf("blocklist has %d entries, want at least 10 000", n)
	}
	entries := bl.Entries()
	for i, e := range entries {
		if i > 0 && entries[i-1] >= e {
			t.Fatalf("entry %d %q not after %q", i, e, entries[i-1])
		}
		if fold.Key(e) != e {
			t.Errorf("entry %q is not folded (%q)", e, fold.Key(e))
		}
		if utf8.RuneCountInString(e) < fold.MinWord {
			t.Errorf("entry %q is shorter than %d", e, fold.MinWord)
		}
	}
	runtime.KeepAlive(bl)
}

func TestBlocklistContains(t *testing.T) {
	bl := password.LoadBlocklist()
	for _, tt := range []struct {
		word string
		want bool
	}{
		{"azertyuiop", true},
		{"AZERTYUIOP", true},
		{"motdepasse", true},
		{"soleil", true},        // French word
		{"Était", true},         // French word, accent folded
		{"password", true},      // English common password
		{"azertyuiop12", false}, // Contains is exact; Check cuts decorations
		{"correct horse battery staple", false},
		{"mot de passe très long", false},
		{"correcthorsebatterystaple", false},
	} {
		if got := bl.Contains(tt.word); got != tt.want {
			t.Errorf("Contains(%q) = %v, want %v", tt.word, got, tt.want)
		}
	}
}

func TestNewBlocklist(t *testing.T) {
	bl := password.NewBlocklist([]string{"Conseil-Départemental", "gironde", "Gironde", "Pau", ""})
	if bl.Len() != 3 { // "conseil-departemental", "gironde", "pau"
		t.Errorf("Len = %d, want 3 (folded, deduplicated, no empty entry)", bl.Len())
	}
	p := password.DefaultPolicy(bl)
	run(t, p, []tc{
		{name: "folded entry", pw: "CONSEIL-DEPARTEMENTAL", want: password.Blocklisted},
		{name: "decorated entry", pw: "Gironde2024!!", want: password.Blocklisted},
		{name: "3-letter entry never matches", pw: "Pau123456789"},
		{name: "not listed here", pw: "motdepasse123"},
	})
	if empty := password.NewBlocklist(nil); empty.Len() != 0 || empty.Contains("gironde") {
		t.Error("empty blocklist")
	}
}
