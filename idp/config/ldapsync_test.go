package config

import (
	"strings"
	"testing"
)

// The workers' public key may come from a file instead of the long line
// itself; one of the two, never both, each mistake at its line.
func TestLdapsyncPublicKeyFile(t *testing.T) {
	t.Parallel()
	pub := ldapsyncPublicKey()
	files := map[string]string{
		"/pub": pub + "\n", "/pub-crlf": pub + "\r\n", "/empty": "\n",
		"/private": "hpke1:647a:not-a-public-key\n",
	}
	head := minimalExcept(t, "ldapsync")
	line := strings.Count(head, "\n") + 2 // the line after "ldapsync:"
	for _, tt := range []struct {
		name, section, want string
		wantLine            int
	}{
		{"from a file", "  public_key_file: /pub\n", "", 0},
		{"with a CRLF", "  public_key_file: /pub-crlf\n", "", 0},
		{"inline still works", "  public_key: " + pub + "\n", "", 0},
		{"both", "  public_key: " + pub + "\n  public_key_file: /pub\n", "ldapsync.public_key: give either public_key or public_key_file, not both", line + 1},
		{"missing file", "  public_key_file: /nowhere\n", `ldapsync.public_key: cannot read public key file "/nowhere": no such file`, line},
		{"empty file", "  public_key_file: /empty\n", `ldapsync.public_key: public key file "/empty" is empty`, line},
		{"empty path", "  public_key_file: \"\"\n", "ldapsync.public_key: public_key_file is empty", line},
		{"not a key", "  public_key_file: /private\n", "ldapsync.public_key: public_key_file does not hold a public key printed by `ldapsync keygen`", line},
		{"not text", "  public_key_file: [a]\n", "ldapsync.public_key_file: must be text", line},
		{"neither", "", "ldapsync.public_key: this setting is required: new passwords are sealed", line - 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, errs := parse(t, head+"ldapsync:\n"+tt.section+"  signing_key_env: SIGNING\n", files)
			if tt.want == "" {
				if errs != nil {
					t.Fatalf("refused: %v", errs)
				}
				if c.Ldapsync.PublicKey != pub {
					t.Errorf("public key %.20q…, want the file's", c.Ldapsync.PublicKey)
				}
				return
			}
			if len(errs) != 1 || !strings.Contains(errs.Error(), tt.want) {
				t.Fatalf("errors = %v, want only %q", errs, tt.want)
			}
			if errs[0].Line != tt.wantLine {
				t.Errorf("reported at line %d, want %d", errs[0].Line, tt.wantLine)
			}
		})
	}
}
