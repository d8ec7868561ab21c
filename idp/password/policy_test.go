package password_test

import (
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/region-nouvelle-aquitaine/idp/idp/password"
)

// shipped loads the shipped list (about 10 ms).
func shipped() *password.Blocklist { return password.LoadBlocklist() }

// printable is printable ASCII with the space: what random passwords draw from.
const printable = " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"

// random returns n characters drawn from alphabet with a seeded generator:
// the tests are random-looking but reproducible.
func random(seed uint64, n int, alphabet string) string {
	r := rand.New(rand.NewPCG(seed, 0x5ec20))
	a := []rune(alphabet)
	var b strings.Builder
	for range n {
		b.WriteRune(a[r.IntN(len(a))])
	}
	return b.String()
}

// tc is one row: the password, the caller's context, and the expected
// reason (0: accepted).
type tc struct {
	name    string
	pw      string
	context []string
	want    password.Reason
	// wantContext is Rejection.Context for ContainsContext.
	wantContext string
}

func run(t *testing.T, p password.Policy, tests []tc) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Check(tt.pw, tt.context...)
			if tt.want == 0 {
				if err != nil {
					t.Fatalf("Check(%q) = %v, want accepted", tt.pw, err)
				}
				return
			}
			var rej *password.Rejection
			if !errors.As(err, &rej) {
				t.Fatalf("Check(%q) = %v, want a *Rejection %s", tt.pw, err, tt.want)
			}
			if rej.Reason != tt.want {
				t.Fatalf("Check(%q): reason %s, want %s", tt.pw, rej.Reason, tt.want)
			}
			if rej.Context != tt.wantContext {
				t.Errorf("Check(%q): context %q, want %q", tt.pw, rej.Context, tt.wantContext)
			}
			// The error text may be logged: nothing of the password in it.
			if msg := err.Error(); len(tt.pw) >= 4 && (strings.Contains(msg, tt.pw) || strings.Contains(strings.ToLower(msg), strings.ToLower(tt.pw))) {
				t.Errorf("Error() %q shows the password", msg)
			}
			if rej.Context != "" && strings.Contains(err.Error(), rej.Context) {
				t.Errorf("Error() %q shows the context word", err.Error())
			}
		})
	}
}

// Lengths in code points, 12 (15 strict) to 128, never truncated.
func TestLengths(t *testing.T) {
	emoji12 := "😀🐘🌍🎉🍕🚲🌻🎸🐙🍩🚀🦊"
	run(t, password.DefaultPolicy(shipped()), []tc{
		{name: "11 chars", pw: random(1, 11, printable), want: password.TooShort},
		{name: "12 chars", pw: random(1, 12, printable)},
		{name: "64 chars", pw: random(2, 64, printable)},
		{name: "128 chars", pw: random(3, 128, printable)},
		{name: "129 chars", pw: random(4, 129, printable), want: password.TooLong},
		{name: "far too long, bytes alone", pw: random(5, 10_000, printable), want: password.TooLong},
		{name: "12 emoji count as 12", pw: emoji12},
		{name: "11 emoji (44 bytes) count as 11", pw: emoji12[:len(emoji12)-len("🦊")], want: password.TooShort},
		{name: "128 emoji", pw: random(6, 128, emoji12)},
		{name: "129 emoji", pw: random(7, 129, emoji12), want: password.TooLong},
		{name: "accents count once: 11 code points, 17 bytes", pw: "pässwörd-ñ…", want: password.TooShort},
		{name: "spaces count, not trimmed: 10 + 2", pw: " " + random(8, 10, printable[1:]) + " "},
		{name: "spaces count, not trimmed: 10 + 1", pw: random(8, 10, printable[1:]) + " ", want: password.TooShort},
		{name: "empty", pw: "", want: password.Empty},
	})
	t.Run("strict", func(t *testing.T) {
		run(t, password.StrictPolicy(shipped()), []tc{
			{name: "14 chars", pw: random(9, 14, printable), want: password.TooShort},
			{name: "15 chars", pw: random(9, 15, printable)},
			{name: "128 chars", pw: random(10, 128, printable)},
		})
	})
	t.Run("zero lengths are the defaults", func(t *testing.T) {
		run(t, password.Policy{Blocklist: shipped()}, []tc{
			{name: "11", pw: random(11, 11, printable), want: password.TooShort},
			{name: "12", pw: random(11, 12, printable)},
			{name: "128", pw: random(12, 128, printable)},
			{name: "129", pw: random(13, 129, printable), want: password.TooLong},
		})
	})
}

// The limits and length come back for the message that names the rule.
func TestRejectionNumbers(t *testing.T) {
	for _, tt := range []struct {
		p          password.Policy
		pw         string
		want       password.Reason
		n, min, mx int
	}{
		{password.DefaultPolicy(shipped()), "pässwörd-ñ…", password.TooShort, 11, 12, 128},
		{password.StrictPolicy(shipped()), "14 code points", password.TooShort, 14, 15, 128},
		{password.DefaultPolicy(shipped()), strings.Repeat("é", 129), password.TooLong, 129, 12, 128},
		{password.Policy{MinLength: 12, MaxLength: 200, Blocklist: shipped()}, strings.Repeat("ab3", 67), password.TooLong, 201, 12, 200},
	} {
		var rej *password.Rejection
		if !errors.As(tt.p.Check(tt.pw), &rej) || rej.Reason != tt.want || rej.Length != tt.n || rej.Min != tt.min || rej.Max != tt.mx {
			t.Errorf("Check(%q) = %+v, want %s length %d min %d max %d", tt.pw, rej, tt.want, tt.n, tt.min, tt.mx)
		}
	}
}

// No class rule, every printable character and space.
func TestAnyPrintable(t *testing.T) {
	run(t, password.DefaultPolicy(shipped()), []tc{
		{name: "xkcd passphrase", pw: "correct horse battery staple"},
		{name: "French passphrase", pw: "mot de passe très long"},
		{name: "accents and ellipsis", pw: "pässwörd-ñoño…"},
		{name: "lower case only", pw: "ggkwpzmbtqrhx"},
		{name: "digits only, random", pw: "840263917305"},
		{name: "sentence with punctuation", pw: "J'habite à Pau depuis 1998 !"},
		{name: "non-breaking and narrow spaces", pw: "l’été\u00a0à\u202fBiarritz"},
		{name: "Greek, Cyrillic, CJK", pw: "καλημέρα Москва 東京"},
		{name: "ZWJ emoji sequence", pw: "👩‍💻 code la nuit 🌙"},
		{name: "right-to-left script", pw: "مرحبا بالعالم ٢٠٢٤"},
	})
}

// Controls and broken encodings are refused; nothing is silently removed.
func TestForbiddenCharacters(t *testing.T) {
	base := "tartine-de-miel"
	var tests []tc
	for _, c := range []struct{ name, s string }{
		{"NUL", "\x00"}, {"tab", "\t"}, {"newline", "\n"}, {"carriage return", "\r"},
		{"escape", "\x1b"}, {"DEL", "\x7f"}, {"C1 NEL", "\u0085"}, {"C1 CSI", "\u009b"},
		{"line separator", "\u2028"}, {"paragraph separator", "\u2029"},
		{"noncharacter FFFF", "\uffff"}, {"noncharacter FDD0", "\ufdd0"}, {"noncharacter 10FFFE", "\U0010fffe"},
	} {
		tests = append(tests,
			tc{name: c.name + " inside", pw: base[:5] + c.s + base[5:], want: password.ControlChars},
			tc{name: c.name + " at the end", pw: base + c.s, want: password.ControlChars},
		)
	}
	tests = append(tests,
		tc{name: "invalid UTF-8 byte", pw: base + "\xff", want: password.InvalidUTF8},
		tc{name: "truncated sequence", pw: base + "\xc3", want: password.InvalidUTF8},
		tc{name: "encoded surrogate", pw: base + "\xed\xa0\x80", want: password.InvalidUTF8},
		tc{name: "overlong encoding", pw: base + "\xc0\xaf", want: password.InvalidUTF8},
		tc{name: "soft hyphen (Cf) allowed", pw: base + "\u00ad"},
		tc{name: "zero-width joiner (Cf) allowed", pw: base + "\u200d"},
	)
	run(t, password.DefaultPolicy(shipped()), tests)
}

// The blocklist, bare and decorated.
func TestBlocklisted(t *testing.T) {
	run(t, password.DefaultPolicy(shipped()), []tc{
		{name: "azertyuiop12", pw: "azertyuiop12", want: password.Blocklisted},
		{name: "motdepasse123", pw: "motdepasse123", want: password.Blocklisted},
		{name: "capitalised, symbol", pw: "Azertyuiop!!", want: password.Blocklisted},
		{name: "leading decoration", pw: "!Motdepasse1", want: password.Blocklisted},
		{name: "leading digits", pw: "2024motdepasse", want: password.Blocklisted},
		{name: "spaced out", pw: "mot de passe 2024", want: password.Blocklisted},
		{name: "hyphenated", pw: "Mot-de-Passe_2024", want: password.Blocklisted},
		{name: "accents do not hide it", pw: "Pässwörd!!!!", want: password.Blocklisted},
		{name: "fullwidth does not hide it", pw: "ｐａｓｓｗｏｒｄ１２３４", want: password.Blocklisted},
		{name: "listed with its digits", pw: "Trustno1!!!!", want: password.Blocklisted},
		{name: "listed entry, digits cut", pw: "1qaz2wsx3edc", want: password.Blocklisted},
		{name: "long listed entry, whole", pw: "123456789012", want: password.Blocklisted},
		{name: "French word and year", pw: "Soleil2024!!", want: password.Blocklisted},
		{name: "French word, accents", pw: "Bienvenue2024", want: password.Blocklisted},
		{name: "French long word alone", pw: "Malheureusement", want: password.Blocklisted},
		{name: "French word, emoji decoration", pw: "chocolat😀😀😀😀", want: password.Blocklisted},
		{name: "repeated character", pw: "aaaaaaaaaaaa", want: password.Blocklisted},
		{name: "repeated spaces", pw: strings.Repeat(" ", 12), want: password.Blocklisted},
		{name: "repeated pair", pw: "AbAbAbAbAbAb", want: password.Blocklisted},
		{name: "repeated triple, partial end", pw: "azeazeazeazeaz", want: password.Blocklisted},
		{name: "repeated quad", pw: "1234123412341234", want: password.Blocklisted},
		{name: "repeated emoji", pw: strings.Repeat("😀", 12), want: password.Blocklisted},
		// Not refused: letters are never cut, so only whole words match.
		{name: "listed word inside a phrase", pw: "mon motdepasse est secret"},
		{name: "period of 5 is a pattern no more", pw: "abcdeabcdeab"},
	})
}

// Context words.
func TestContext(t *testing.T) {
	run(t, password.DefaultPolicy(shipped()), []tc{
		{name: "NouvelleAquitaine", pw: "NouvelleAquitaine", want: password.ContainsContext, wantContext: "Nouvelle-Aquitaine"},
		{name: "year and symbol", pw: "NouvelleAquitaine2024!", want: password.ContainsContext, wantContext: "Nouvelle-Aquitaine"},
		{name: "with a space", pw: "nouvelle aquitaine 33", want: password.ContainsContext, wantContext: "Nouvelle-Aquitaine"},
		{name: "upper case with underscore", pw: "NOUVELLE_AQUITAINE", want: password.ContainsContext, wantContext: "Nouvelle-Aquitaine"},
		{name: "Aquitaine alone", pw: "vive l'Aquitaine !", want: password.ContainsContext, wantContext: "Aquitaine"},
		{name: "Région, accent", pw: "MaRégion2024!", want: password.ContainsContext, wantContext: "Région"},
		{name: "Région, no accent", pw: "ma region adoree", want: password.ContainsContext, wantContext: "Région"},
		{name: "région inside a word", pw: "Les trains régionaux", want: password.ContainsContext, wantContext: "Région"},
		{name: "mes démarches", pw: "mes démarches 2024", want: password.ContainsContext, wantContext: "Mes Démarches"},
		{name: "mesdemarches", pw: "#mesdemarches#", want: password.ContainsContext, wantContext: "Mes Démarches"},
		{name: "uid and year", pw: "jdupont2024!", context: []string{"jdupont"}, want: password.ContainsContext, wantContext: "jdupont"},
		{name: "uid and digits", pw: "jdupont123456", context: []string{"jdupont"}, want: password.ContainsContext, wantContext: "jdupont"},
		{name: "uid capitalised, in a phrase", pw: "Bonjour JDupont, ça va ?", context: []string{"jdupont"}, want: password.ContainsContext, wantContext: "jdupont"},
		{name: "uid with digits", pw: "jdupont33-bordeaux", context: []string{"jdupont33"}, want: password.ContainsContext, wantContext: "jdupont33"},
		{name: "uid letters without its digits", pw: "jdupont-2024-!!", context: []string{"jdupont33"}, want: password.ContainsContext, wantContext: "jdupont33"},
		{name: "mail local part, dot dropped", pw: "JeanDupont1987", context: []string{"jdupont", "jean.dupont"}, want: password.ContainsContext, wantContext: "jean.dupont"},
		{name: "mail local part, dots kept", pw: "jean.dupont.1987", context: []string{"jdupont", "jean.dupont"}, want: password.ContainsContext, wantContext: "jean.dupont"},
		{name: "whole address cut at @", pw: "jean.dupont#2024", context: []string{"jean.dupont@example.fr"}, want: password.ContainsContext, wantContext: "jean.dupont@example.fr"},
		{name: "accented uid", pw: "Hélène-Lefèvre!", context: []string{"helene.lefevre"}, want: password.ContainsContext, wantContext: "helene.lefevre"},
		{name: "longest match reported", pw: "Région Nouvelle-Aquitaine", want: password.ContainsContext, wantContext: "Nouvelle-Aquitaine"},
		{name: "context before blocklist", pw: "azertyuiop-jdupont", context: []string{"jdupont"}, want: password.ContainsContext, wantContext: "jdupont"},
		// Short context words are ignored: they would refuse too much.
		{name: "uid of 3", pw: "jdu fait du vélo à Pau", context: []string{"jdu"}},
		{name: "mail local part of 2", pw: "le lé de la tapisserie", context: []string{"lé@example.fr"}},
		{name: "empty context", pw: "correct horse battery staple", context: []string{"", "@example.fr"}},
		{name: "uid absent", pw: "correct horse battery staple", context: []string{"jdupont", "jean.dupont"}},
	})
}

// A random 12-character string is accepted: a thousand of them, of every
// length from 12 to 128, letters and digits or all printable ASCII.
func TestRandomAccepted(t *testing.T) {
	p := password.DefaultPolicy(shipped())
	alnum := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	for seed := range uint64(1000) {
		n := 12 + int(seed%117)
		for _, a := range []string{alnum, printable} {
			pw := random(seed+100, n, a)
			if err := p.Check(pw, "jdupont", "jean.dupont"); err != nil {
				t.Errorf("Check(%q) = %v", pw, err)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	bl := password.NewBlocklist(nil)
	for _, tt := range []struct {
		name string
		p    password.Policy
		ok   bool
	}{
		{"default", password.DefaultPolicy(bl), true},
		{"strict", password.StrictPolicy(bl), true},
		{"zero lengths", password.Policy{Blocklist: bl}, true},
		{"longer maximum", password.Policy{MinLength: 12, MaxLength: 256, Blocklist: bl}, true},
		{"minimum 8", password.Policy{MinLength: 8, Blocklist: bl}, false},
		{"maximum 64", password.Policy{MaxLength: 64, Blocklist: bl}, false},
		{"minimum over maximum", password.Policy{MinLength: 200, MaxLength: 128, Blocklist: bl}, false},
		{"no blocklist", password.Policy{}, false},
	} {
		if err := tt.p.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

func TestLengthsMethod(t *testing.T) {
	for _, tt := range []struct {
		p        password.Policy
		min, max int
	}{
		{password.Policy{}, 12, 128},
		{password.DefaultPolicy(nil), 12, 128},
		{password.StrictPolicy(nil), 15, 128},
		{password.Policy{MinLength: 14, MaxLength: 256}, 14, 256},
	} {
		if min, max := tt.p.Lengths(); min != tt.min || max != tt.max {
			t.Errorf("%+v.Lengths() = %d, %d, want %d, %d", tt.p, min, max, tt.min, tt.max)
		}
	}
}

func TestNilBlocklistPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Check with a nil Blocklist did not panic")
		}
	}()
	_ = password.Policy{}.Check("correct horse battery staple")
}

func TestReasonString(t *testing.T) {
	seen := map[string]bool{}
	for r := password.Empty; r <= password.Blocklisted; r++ {
		s := r.String()
		if strings.HasPrefix(s, "Reason(") || seen[s] {
			t.Errorf("Reason %d: String %q", int(r), s)
		}
		seen[s] = true
	}
}

// Check is safe for concurrent use, first load included (run with -race).
func TestConcurrent(t *testing.T) {
	p := password.DefaultPolicy(password.LoadBlocklist()) // not yet loaded
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for j := range 50 {
				pw := random(uint64(i*100+j), 16, printable)
				if err := p.Check(pw); err != nil {
					t.Errorf("Check(%q) = %v", pw, err)
				}
				if p.Check("motdepasse123") == nil {
					t.Error("motdepasse123 accepted")
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkCheck(b *testing.B) {
	p := password.DefaultPolicy(shipped())
	p.Blocklist.Len() // load outside the timings
	for _, bc := range []struct{ name, pw string }{
		{"accepted ASCII 16", "Xk9#mP2$vL7!qR3w"},
		{"accepted passphrase accents", "mot de passe très long"},
		{"accepted 128", random(1, 128, printable)},
		{"blocklisted decorated", "Motdepasse2024!!"},
		{"context", "NouvelleAquitaine2024!"},
		{"too short", "azerty"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = p.Check(bc.pw, "jdupont", "jean.dupont")
			}
		})
	}
}

func BenchmarkContains(b *testing.B) {
	bl := shipped()
	bl.Len()
	b.ReportAllocs()
	for b.Loop() {
		bl.Contains("motdepasse")
	}
}

// BenchmarkLoad is the first use of LoadBlocklist: gunzip and index.
func BenchmarkLoad(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		password.LoadBlocklist().Len()
	}
}

func TestCountsCodePoints(t *testing.T) {
	// The rule is code points, not bytes nor user-perceived characters.
	p := password.DefaultPolicy(shipped())
	pw := "👍🏻👍🏼👍🏽👍🏾👍🏿👋🏽" // 6 graphemes, 12 code points
	if utf8.RuneCountInString(pw) != 12 {
		t.Fatal("test data")
	}
	if err := p.Check(pw); err != nil {
		t.Errorf("Check(%q) = %v: 12 code points are enough", pw, err)
	}
	if err := p.Check(pw[:len(pw)-len("🏽")]); err == nil {
		t.Errorf("11 code points accepted")
	}
}
