package fold_test

import (
	"testing"

	"github.com/region-nouvelle-aquitaine/idp/idp/password/internal/fold"
)

func TestKey(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"Azerty123!", "azerty123!"},
		{"Région", "region"},
		{"RÉGION", "region"},
		{"Re\u0301gion", "region"}, // decomposed accent
		{"Nouvelle-Aquitaine", "nouvelle-aquitaine"},
		{"mes démarches", "mes demarches"},
		{"pässwörd-ñ…", "password-n..."},
		{"Cœur Æsir Straße", "coeur aesir strasse"},
		{"ｐａｓｓｗｏｒｄ１２３", "password123"}, // fullwidth
		{"ﬁnance²", "finance2"},        // ligature, superscript
		{"İstanbul", "istanbul"},       // capital I with dot
		{"ℌello Ⅻ", "hello xii"},       // capitals brought back by NFKD
		{"😀 e\u0301", "😀 e"},
		{"καλημέρα", "καλημερα"},
	} {
		if got := fold.Key(tt.in); got != tt.want {
			t.Errorf("Key(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := fold.Key(fold.Key(tt.in)); got != fold.Key(tt.in) {
			t.Errorf("Key is not idempotent on %q: %q", tt.in, got)
		}
	}
}

func TestAlnumLetters(t *testing.T) {
	for _, tt := range []struct{ in, alnum, letters string }{
		{"nouvelle-aquitaine 2024!", "nouvelleaquitaine2024", "nouvelleaquitaine"},
		{"jdupont33", "jdupont33", "jdupont"},
		{"jean.dupont", "jeandupont", "jeandupont"},
		{"😀!? ", "", ""},
		{"été", "été", "été"},
		{"٢٠٢٤", "٢٠٢٤", ""}, // Arabic-Indic digits are digits
	} {
		if got := fold.Alnum(tt.in); got != tt.alnum {
			t.Errorf("Alnum(%q) = %q, want %q", tt.in, got, tt.alnum)
		}
		if got := fold.Letters(tt.in); got != tt.letters {
			t.Errorf("Letters(%q) = %q, want %q", tt.in, got, tt.letters)
		}
	}
}

func BenchmarkKey(b *testing.B) {
	for _, s := range []string{"Motdepasse2024!!", "mot de passe très long"} {
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				fold.Key(s)
			}
		})
	}
}
