package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBackchannelLogoutURI(t *testing.T) {
	t.Parallel()
	const mustHTTPS = "must use https (http is only allowed for loopback hosts with insecure_loopback: true)"
	tests := []struct {
		name    string
		flag    bool
		public  bool
		uri     string
		problem string // "" when accepted
	}{
		{"https", false, false, "https://rp.example.org/backchannel", ""},
		{"https with query", false, false, "https://rp.example.org/bc?site=1", ""},
		{"http loopback without flag", false, false, "http://127.0.0.1:3000/backchannel", `"http://127.0.0.1:3000/backchannel" ` + mustHTTPS},
		// A public client's loopback leeway is for its redirect URIs: the
		// back-channel request comes from the provider.
		{"public http loopback without flag", false, true, "http://127.0.0.1:3000/backchannel", `"http://127.0.0.1:3000/backchannel" ` + mustHTTPS},
		{"http loopback with flag", true, false, "http://127.0.0.1:3000/backchannel", ""},
		{"http remote with flag", true, false, "http://rp.example.org/backchannel", `"http://rp.example.org/backchannel" ` + mustHTTPS},
		{"fragment", false, false, "https://rp.example.org/bc#x", `"https://rp.example.org/bc#x" must not contain a fragment (the part after #)`},
		{"relative", false, false, "/backchannel", `"/backchannel" is not an absolute URL such as "https://rp.example.org/callback"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client := `secret_sha256: "` + secretHash + `"`
			if tt.public {
				client = "public: true"
			}
			yaml := minimalWith(t, `secret_sha256: "`+secretHash+`"`, client,
				"redirect_uris: [https://rp.example.org/cb]",
				"redirect_uris: [https://rp.example.org/cb]\n    backchannel_logout_uri: \""+tt.uri+"\"\n    backchannel_logout_session_required: true")
			if tt.flag {
				yaml = "insecure_loopback: true\n" + yaml
				yaml = minimalWithIssuer(t, yaml, "http://127.0.0.1:8080")
			}
			c, errs := parse(t, yaml, nil)
			if tt.problem == "" {
				if len(errs) != 0 {
					t.Fatalf("refused: %v", errs)
				}
				if c.Clients[0].BackchannelLogoutURI != tt.uri || !c.Clients[0].BackchannelLogoutSessionRequired {
					t.Errorf("client = %+v", c.Clients[0])
				}
				return
			}
			want := []Problem{{Path: "clients[0].backchannel_logout_uri", Message: tt.problem}}
			var got []Problem
			for _, p := range errs {
				got = append(got, Problem{Path: p.Path, Message: p.Message})
				if p.Line == 0 {
					t.Errorf("problem %q without a line", p.Message)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("problems\n%q\nwant\n%q", got, want)
			}
		})
	}
}

// minimalWithIssuer replaces the issuer of a config made by minimalWith.
func minimalWithIssuer(t *testing.T, yaml, issuer string) string {
	t.Helper()
	const old = "issuer: https://idp.example.org"
	for i := 0; i+len(old) <= len(yaml); i++ {
		if yaml[i:i+len(old)] == old {
			return yaml[:i] + "issuer: " + issuer + yaml[i+len(old):]
		}
	}
	t.Fatalf("no issuer in %q", yaml)
	return ""
}

func TestBackchannelSection(t *testing.T) {
	t.Parallel()
	c := mustParse(t, minimalWith(t), nil)
	if c.Backchannel != DefaultBackchannel() {
		t.Errorf("defaults = %+v", c.Backchannel)
	}
	c = mustParse(t, minimalWith(t)+"backchannel_logout:\n  timeout: 2s\n  first_retry: 1s\n  max_retry: 10s\n  give_up_after: 30m\n", nil)
	if want := (Backchannel{Timeout: 2 * time.Second, FirstRetry: time.Second, MaxRetry: 10 * time.Second, GiveUpAfter: 30 * time.Minute}); c.Backchannel != want {
		t.Errorf("section = %+v, want %+v", c.Backchannel, want)
	}
	_, errs := parse(t, minimalWith(t)+"backchannel_logout:\n  first_retry: 1m\n  max_retry: 10s\n", nil)
	if len(errs) != 1 || errs[0].Path != "backchannel_logout.max_retry" {
		t.Errorf("max_retry < first_retry: %v", errs)
	}
	_, errs = parse(t, minimalWith(t, "redirect_uris: [https://rp.example.org/cb]", "redirect_uris: [https://rp.example.org/cb]\n    backchannel_logout_session_required: true"), nil)
	if len(errs) != 1 || errs[0].Path != "clients[0].backchannel_logout_session_required" {
		t.Errorf("session_required without uri: %v", errs)
	}
}

// TestBackchannelCAFile: ca_file is checked like the other sections' (read,
// at least one PEM certificate), each problem at its line.
func TestBackchannelCAFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		value   string
		files   map[string]string
		problem string // "" when accepted
	}{
		{"PEM bundle", "/etc/idp/rp-ca.pem", map[string]string{"/etc/idp/rp-ca.pem": testCA(t)}, ""},
		{"PEM bundle of two", "/etc/idp/rp-ca.pem", map[string]string{"/etc/idp/rp-ca.pem": testCA(t) + testCA(t)}, ""},
		{"empty: the system's roots alone", `""`, nil, ""},
		{"missing", "/etc/idp/rp-ca.pem", nil, `cannot read "/etc/idp/rp-ca.pem": no such file`},
		{"not PEM", "/etc/idp/rp-ca.pem", map[string]string{"/etc/idp/rp-ca.pem": "junk"}, `"/etc/idp/rp-ca.pem" holds no PEM certificate (-----BEGIN CERTIFICATE-----)`},
		{"a key, not a certificate", "/etc/idp/rp-ca.pem", map[string]string{"/etc/idp/rp-ca.pem": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}, "holds no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			yaml := minimalWith(t) + "backchannel_logout:\n  timeout: 2s\n  ca_file: " + tt.value + "\n"
			c, errs := parse(t, yaml, tt.files)
			if tt.problem == "" {
				if len(errs) != 0 {
					t.Fatalf("refused: %v", errs)
				}
				if want := strings.Trim(tt.value, `"`); c.Backchannel.CAFile != want {
					t.Errorf("ca_file = %q, want %q", c.Backchannel.CAFile, want)
				}
				return
			}
			wantLine := strings.Count(yaml, "\n") // the last line
			if len(errs) != 1 || errs[0].Path != "backchannel_logout.ca_file" || errs[0].Line != wantLine || !strings.Contains(errs[0].Message, tt.problem) {
				t.Errorf("problems %v\nwant one at backchannel_logout.ca_file, line %d: %q", errs, wantLine, tt.problem)
			}
		})
	}
}
