// Command gen rebuilds idp/password/data from the zxcvbn-ts npm packages:
//
//	go run ./idp/password/gen                # from the module root
//	go generate ./idp/password               # the same, through go:generate
//	go run ./idp/password/gen -check         # compare with the committed files
//	go run ./idp/password/gen -from DIR      # use tarballs already in DIR (offline)
//
// It fetches the pinned versions with `npm pack` into a temporary
// directory, checks each tarball against its pinned sha512 integrity,
// and writes:
//
//	blocklist.txt.gz   one folded entry per line (fold.Key), sorted, unique
//	LICENSE-*.txt, NOTICE-*.md, THIRD_PARTY_LICENSES-*.md
//	                   the packages' own licence and notice files, verbatim
//
// README.md in the same directory is written by hand.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/region-nouvelle-aquitaine/idp/idp/password/internal/fold"
)

// source is one pinned npm package and the files taken from it.
type source struct {
	name, version, integrity string
	// lists are the JSON word lists (arrays of strings) under package/.
	lists []string
	// notices are copied verbatim to the output directory, renamed
	// <base>-<package>.<ext>: package/LICENSE.txt → LICENSE-zxcvbn-ts-language-fr.txt.
	notices []string
}

// Bump a version: change it here with the integrity npm prints
// (`npm view @zxcvbn-ts/language-fr@X dist.integrity`), run the generator,
// update README.md's counts.
func sources() []source {
	return []source{
		{
			name: "@zxcvbn-ts/language-common", version: "4.1.3",
			integrity: "sha512-g2bg4skmlJG9aJqC/nWziZzgYpSe/f3rKeGobrkdFiOrfZVFqqzUgC6BUQWuX54Sua9j0Jxxt+1bf4f/Mal1Kg==",
			lists:     []string{"src/passwords.json"},
			notices:   []string{"LICENSE.txt"},
		},
		{
			name: "@zxcvbn-ts/language-fr", version: "4.1.2",
			integrity: "sha512-xEex2n4J9UBhkASw6Vt2lUp9+eJgP0KquNiyh/D3IAP/HbnqRdd1oBkAiynSsRhJ9olmRnZVfYghaU5N6UKNjw==",
			lists:     []string{"src/commonWords.json"},
			notices:   []string{"LICENSE.txt", "NOTICE.md", "THIRD_PARTY_LICENSES.md"},
		},
	}
}

// minLength mirrors password.DefaultMinLength (the generator must build
// without the data file, so it cannot import the package that embeds it).
const (
	minLength = 12
	maxLength = 128
)

func main() {
	out := flag.String("out", "idp/password/data", "output directory")
	from := flag.String("from", "", "directory holding the .tgz files already (default: npm pack into a temporary directory)")
	check := flag.Bool("check", false, "compare with the files in -out instead of writing them")
	flag.Parse()
	if err := run(*out, *from, *check); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(out, from string, check bool) error {
	if from == "" {
		tmp, err := os.MkdirTemp("", "idp-password-gen-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		if err := npmPack(tmp); err != nil {
			return err
		}
		from = tmp
	}
	files := map[string][]byte{} // output name → content
	var entries []string
	for _, s := range sources() {
		got, err := readPackage(from, s)
		if err != nil {
			return err
		}
		base := strings.TrimPrefix(strings.ReplaceAll(s.name, "/", "-"), "@")
		for _, n := range s.notices {
			ext := filepath.Ext(n)
			files[strings.TrimSuffix(n, ext)+"-"+base+ext] = got[n]
		}
		for _, l := range s.lists {
			var words []string
			if err := json.Unmarshal(got[l], &words); err != nil {
				return fmt.Errorf("%s %s: %w", s.name, l, err)
			}
			kept := 0
			for _, w := range words {
				if k := fold.Key(w); keep(k) {
					entries = append(entries, k)
					kept++
				}
			}
			fmt.Fprintf(os.Stderr, "%s@%s %s: %d words, %d kept\n", s.name, s.version, l, len(words), kept)
		}
	}
	slices.Sort(entries)
	entries = slices.Compact(entries)
	text := strings.Join(entries, "\n") + "\n"
	gz, err := compress(text)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "blocklist: %d entries, %d bytes, %d gzipped\n", len(entries), len(text), len(gz))

	if check {
		return compare(out, text, files)
	}
	files["blocklist.txt.gz"] = gz
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(out, n), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// keep says whether a folded word can ever be matched by password.Policy:
// entries shorter than fold.MinWord are never looked up, and an entry
// without a letter is only compared with a whole password, which is at
// least minLength code points long.
func keep(k string) bool {
	n := utf8.RuneCountInString(k)
	if n < fold.MinWord || n > maxLength {
		return false
	}
	letter := false
	for _, r := range k {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return false
		}
		letter = letter || unicode.IsLetter(r)
	}
	return letter || n >= minLength
}

func npmPack(dir string) error {
	args := []string{"pack", "--silent", "--pack-destination", dir}
	for _, s := range sources() {
		args = append(args, s.name+"@"+s.version)
	}
	cmd := exec.Command("npm", args...)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// readPackage checks the tarball's integrity and package.json, and returns
// the wanted files keyed by their path under package/.
func readPackage(dir string, s source) (map[string][]byte, error) {
	file := filepath.Join(dir, strings.TrimPrefix(strings.ReplaceAll(s.name, "/", "-"), "@")+"-"+s.version+".tgz")
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	sum := sha512.Sum512(raw)
	if got := "sha512-" + base64.StdEncoding.EncodeToString(sum[:]); got != s.integrity {
		return nil, fmt.Errorf("%s: integrity %s, want %s", file, got, s.integrity)
	}
	want := map[string]bool{"package.json": true}
	for _, n := range append(slices.Clone(s.lists), s.notices...) {
		want[n] = true
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	got := map[string][]byte{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if n := strings.TrimPrefix(h.Name, "package/"); want[n] && h.Typeflag == tar.TypeReg {
			if got[n], err = io.ReadAll(tr); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", file, n, err)
			}
		}
	}
	for n := range want {
		if got[n] == nil {
			return nil, fmt.Errorf("%s: no package/%s", file, n)
		}
	}
	var meta struct{ Name, Version, License string }
	if err := json.Unmarshal(got["package.json"], &meta); err != nil {
		return nil, fmt.Errorf("%s: package.json: %w", file, err)
	}
	if meta.Name != s.name || meta.Version != s.version || meta.License != "MIT" {
		return nil, fmt.Errorf("%s: package.json says %s@%s licence %q", file, meta.Name, meta.Version, meta.License)
	}
	return got, nil
}

// compress gzips text without a name or time in the header, so the output
// depends on the input (and the Go version's compressor) only.
func compress(text string) ([]byte, error) {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write([]byte(text)); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// compare checks the committed files: the blocklist by content (gzip
// output may differ between Go versions), the notices byte for byte.
func compare(dir, text string, files map[string][]byte) error {
	var stale []string
	f, err := os.Open(filepath.Join(dir, "blocklist.txt.gz"))
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	old, err := io.ReadAll(zr)
	if err != nil {
		return err
	}
	if string(old) != text {
		stale = append(stale, "blocklist.txt.gz")
	}
	for n, b := range files {
		if old, err := os.ReadFile(filepath.Join(dir, n)); err != nil || !bytes.Equal(old, b) {
			stale = append(stale, n)
		}
	}
	if len(stale) > 0 {
		slices.Sort(stale)
		return fmt.Errorf("%s is stale: %s (run go run ./idp/password/gen)", dir, strings.Join(stale, ", "))
	}
	fmt.Fprintln(os.Stderr, dir, "is up to date")
	return nil
}
