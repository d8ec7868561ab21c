package password

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/region-nouvelle-aquitaine/idp/idp/password/internal/fold"
)

//go:generate go run ./gen -out data

// embedded is data/blocklist.txt.gz: folded entries, one a line, sorted
// and unique (see data/README.md for its origin and licences).
//
//go:embed data/blocklist.txt.gz
var embedded []byte

// Blocklist is a set of common passwords and words, held as one string
// (the entries, each followed by "\n", in byte order) and the offsets of
// the entries in it: about 0.8 MB for the shipped list, against 4 MB or
// more for a map. It is built on first use, once, and is then read-only
// and safe for concurrent use.
type Blocklist struct {
	once sync.Once
	gz   []byte   // source: gzipped lines (LoadBlocklist)
	src  []string // or words to fold (NewBlocklist)
	data string
	offs []uint32 // offs[i] starts entry i; offs[len-1] == len(data)
	err  error
}

// LoadBlocklist returns the shipped blocklist: about 65 000 common
// passwords (@zxcvbn-ts/language-common) and French words
// (@zxcvbn-ts/language-fr). The data is decompressed on first use; call it
// once when wiring the server and share the result (Len warms it up).
func LoadBlocklist() *Blocklist {
	return &Blocklist{gz: embedded}
}

// NewBlocklist returns a blocklist of the given words, compared in the
// same folded form as the shipped list (case, accents and separators
// aside: see Policy.Check). Words shorter than 4 code points are never
// matched.
func NewBlocklist(words []string) *Blocklist {
	return &Blocklist{src: slices.Clone(words)}
}

// Len is the number of entries.
func (b *Blocklist) Len() int {
	b.load()
	return len(b.offs) - 1
}

// Contains reports whether word, folded (lower-cased, without accents), is
// an entry. Policy.Check also tries the password without its decorations.
func (b *Blocklist) Contains(word string) bool {
	b.load()
	return b.has(fold.Key(word))
}

// footprint is the memory the loaded list holds, in bytes.
func (b *Blocklist) footprint() int {
	b.load()
	return len(b.data) + 4*cap(b.offs)
}

// load builds the list once. A defective embedded file (which the tests
// rule out) panics on every use rather than letting passwords through.
func (b *Blocklist) load() {
	b.once.Do(func() {
		if b.gz != nil {
			b.data, b.err = gunzip(b.gz)
			b.gz = nil
		} else {
			b.data = joinFolded(b.src)
			b.src = nil
		}
		if b.err == nil {
			b.offs, b.err = index(b.data)
		}
		if b.err != nil {
			b.data, b.offs = "", []uint32{0}
		}
	})
	if b.err != nil {
		panic("password: blocklist: " + b.err.Error())
	}
}

func gunzip(gz []byte) (string, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	if n := len(gz); n >= 4 { // ISIZE, the size uncompressed: no regrowth
		sb.Grow(int(binary.LittleEndian.Uint32(gz[n-4:])))
	}
	if _, err := io.Copy(&sb, zr); err != nil {
		return "", err
	}
	return sb.String(), zr.Close()
}

func joinFolded(words []string) string {
	keys := make([]string, 0, len(words))
	for _, w := range words {
		if k := fold.Key(w); k != "" && !strings.ContainsRune(k, '\n') {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	if len(keys) == 0 {
		return ""
	}
	return strings.Join(keys, "\n") + "\n"
}

// index returns the entries' offsets and checks the order binary search
// relies on.
func index(data string) ([]uint32, error) {
	if data != "" && !strings.HasSuffix(data, "\n") {
		return nil, fmt.Errorf("no final newline")
	}
	if uint64(len(data)) > 1<<32-1 {
		return nil, fmt.Errorf("too large")
	}
	offs := make([]uint32, 0, strings.Count(data, "\n")+1)
	prev := ""
	for i := 0; i < len(data); {
		j := i + strings.IndexByte(data[i:], '\n')
		w := data[i:j]
		if len(offs) > 0 && w <= prev {
			return nil, fmt.Errorf("entry %d %q not after %q", len(offs), w, prev)
		}
		offs = append(offs, uint32(i))
		prev, i = w, j+1
	}
	return append(offs, uint32(len(data))), nil
}

// has reports whether key (already folded) is an entry: binary search.
func (b *Blocklist) has(key string) bool {
	lo, hi := 0, len(b.offs)-1
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		w := b.data[b.offs[m] : b.offs[m+1]-1]
		switch {
		case w == key:
			return true
		case w < key:
			lo = m + 1
		default:
			hi = m
		}
	}
	return false
}

// matches reports whether the folded password is listed as it is, or once
// stripped of decorations: "azertyuiop12", "!Motdepasse123", "mot de passe
// 2024". It tries, each from 4 code points:
//
//   - the key, cut anywhere in its trailing run of non-letters (digits,
//     symbols, spaces, emoji), from the start and from the first letter;
//   - the same with only the letters and digits of the key ("mot de passe"
//     → "motdepasse"), cut in the trailing run of digits.
//
// Cuts never go into letters, so a passphrase ("correct horse battery
// staple", "mot de passe très long") is only compared whole.
func (b *Blocklist) matches(key string) bool {
	b.load()
	if b.has(key) || b.hasCut(key) {
		return true
	}
	if a := fold.Alnum(key); a != key {
		return b.has(a) || b.hasCut(a)
	}
	return false
}

// hasCut tries s[start:end] for start at 0 and at the first letter, and
// end from len(s) down to just after the last letter; the whole of s is
// the caller's.
func (b *Blocklist) hasCut(s string) bool {
	first, last := -1, -1 // byte index of the first letter; end of the last
	for i, r := range s {
		if isLetter(r) {
			if first < 0 {
				first = i
			}
			last = i + utf8.RuneLen(r)
		}
	}
	if first < 0 {
		return false
	}
	starts := []int{0, first}
	if first == 0 {
		starts = starts[:1]
	}
	for _, start := range starts {
		n := utf8.RuneCountInString(s[start:])
		for end := len(s); end >= last; {
			if (start > 0 || end < len(s)) && n >= fold.MinWord && b.has(s[start:end]) {
				return true
			}
			_, size := utf8.DecodeLastRuneInString(s[:end])
			end -= size
			n--
		}
	}
	return false
}
