package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMailDefaults: the host is required, with or without a mail section
// (« Mot de passe perdu » sends its codes by mail); the rest has defaults.
func TestMailDefaults(t *testing.T) {
	t.Parallel()
	if _, errs := parse(t, minimalExcept(t, "mail"), nil); len(errs) != 1 || errs[0].Path != "mail.host" || !strings.Contains(errs[0].Message, "this setting is required") {
		t.Errorf("without a mail section: %v, want mail.host required", errs)
	}
	want := DefaultMail()
	want.Host = "smtp.example.org"
	if c := mustParse(t, minimalExcept(t, "mail")+"mail: {host: smtp.example.org}\n", nil); c.Mail != want {
		t.Errorf("mail = %+v, want %+v", c.Mail, want)
	}
	d := DefaultMail()
	if d.TLS != MailStartTLS || d.Port != 587 || d.GiveUpAfter != time.Hour || d.FromName != "Région Nouvelle-Aquitaine" ||
		d.FromAddress != "noreply@motdepasse.nouvelle-aquitaine.fr" || d.Timeout != 15*time.Second {
		t.Errorf("DefaultMail = %+v", d)
	}
}

// TestMailExample: the commented example parses and says the defaults.
func TestMailExample(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "config", "idp.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(data), "\nmail:\n")
	if i < 0 {
		t.Fatal("deploy/config/idp.yaml has no mail section")
	}
	section := string(data[i:])
	if j := strings.Index(section[1:], "\n\n"); j >= 0 {
		section = section[:j+1]
	}
	c := mustParse(t, minimalExcept(t, "mail")+section+"\n", nil)
	want := DefaultMail()
	want.Host = "smtp.nouvelle-aquitaine.fr"
	if c.Mail != want {
		t.Errorf("example mail = %+v, want the defaults with its host %+v", c.Mail, want)
	}
}

func TestMailFull(t *testing.T) {
	t.Parallel()
	c := mustParse(t, minimalExcept(t, "mail")+`mail:
  host: 127.0.0.1
  port: 2525
  tls: plain
  username: idp
  password_env: LDAP_PW
  helo: idp.example.org
  timeout: 5s
  from_name: "Région Nouvelle-Aquitaine"
  from_address: ne-pas-repondre@nouvelle-aquitaine.fr
  give_up_after: 30m
`, nil)
	want := Mail{Host: "127.0.0.1", Port: 2525, TLS: MailPlain, Username: "idp", Password: "s3cret-ldap",
		HELO: "idp.example.org", Timeout: 5 * time.Second, FromName: "Région Nouvelle-Aquitaine",
		FromAddress: "ne-pas-repondre@nouvelle-aquitaine.fr", GiveUpAfter: 30 * time.Minute}
	if c.Mail != want {
		t.Errorf("mail = %+v, want %+v", c.Mail, want)
	}
	ca := map[string]string{"/etc/idp/smtp-ca.pem": testCA(t)}
	c = mustParse(t, minimalExcept(t, "mail")+"mail: {host: smtp.example.org, tls: implicit_tls, ca_file: /etc/idp/smtp-ca.pem}\n", ca)
	if c.Mail.Port != 465 || c.Mail.CAFile != "/etc/idp/smtp-ca.pem" {
		t.Errorf("implicit_tls: %+v", c.Mail)
	}
	if c = mustParse(t, minimalExcept(t, "mail")+"mail: {host: \"::1\", tls: plain}\n", nil); c.Mail.Port != 25 {
		t.Errorf("plain: port %d, want 25", c.Mail.Port)
	}
	c = mustParse(t, minimalExcept(t, "mail")+`mail:
  host: smtp.example.org
  dkim: {domain: nouvelle-aquitaine.fr, selector: idp2026, private_key_file: /etc/idp/dkim.pem}
`, map[string]string{"/etc/idp/dkim.pem": "a key"})
	if want := (MailDKIM{Domain: "nouvelle-aquitaine.fr", Selector: "idp2026", PrivateKeyFile: "/etc/idp/dkim.pem"}); c.Mail.DKIM != want {
		t.Errorf("dkim = %+v, want %+v", c.Mail.DKIM, want)
	}
}

// TestMailRules: one mistake at a time, reported alone at its line.
func TestMailRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, section, path, inMsg string
	}{
		{"no host", "port: 587", "mail.host", "this setting is required"},
		{"host with port", "host: \"smtp.example.org:587\"", "mail.host", "give the port in mail.port"},
		{"host as URL", "host: \"smtp://smtp.example.org\"", "mail.host", "not a host name or IP address"},
		{"port zero", "host: smtp.example.org, port: 0", "mail.port", "must be between 1 and 65535, not 0"},
		{"unknown tls", "host: smtp.example.org, tls: ssl", "mail.tls", `"ssl" is not allowed; use implicit_tls, starttls or plain`},
		{"plain to a remote relay", "host: smtp.example.org, tls: plain", "mail.tls", "only allowed to a relay on this machine"},
		{"username without password", "host: smtp.example.org, username: idp", "mail.password", "is required with a username"},
		{"password without username", "host: smtp.example.org, password_env: LDAP_PW", "mail.username", "is required with a password"},
		{"literal password", "host: smtp.example.org, username: idp, password: x", "mail.password", "must not be written in the configuration file"},
		{"missing CA file", "host: smtp.example.org, ca_file: /nowhere.pem", "mail.ca_file", "no such file"},
		{"CA file with plain", "host: localhost, tls: plain, ca_file: /nowhere.pem", "mail.ca_file", "only used with tls: implicit_tls or starttls"},
		{"bad helo", "host: smtp.example.org, helo: \"a b\"", "mail.helo", "not a host name"},
		{"zero timeout", "host: smtp.example.org, timeout: 0s", "mail.timeout", "must be longer than zero"},
		{"long timeout", "host: smtp.example.org, timeout: 10m", "mail.timeout", "at most 5m"},
		{"from with display name", "host: smtp.example.org, from_address: \"Région <noreply@example.org>\"", "mail.from_address", "the display name goes in from_name"},
		{"from not an address", "host: smtp.example.org, from_address: noreply", "mail.from_address", "not a bare address"},
		{"from name on two lines", "host: smtp.example.org, from_name: \"a\\nBcc: x@y\"", "mail.from_name", "without control characters"},
		{"give up too soon", "host: smtp.example.org, give_up_after: 30s", "mail.give_up_after", "between 1m and 168h"},
		{"give up too late", "host: smtp.example.org, give_up_after: 200h", "mail.give_up_after", "between 1m and 168h"},
		{"unknown key", "host: smtp.example.org, tls_mode: starttls", "mail", `unknown key "tls_mode"`},
		{"dkim without selector", "host: smtp.example.org, dkim: {domain: example.org, private_key_file: /etc/idp/dkim.pem}", "mail.dkim.selector", "this setting is required"},
		{"dkim without key", "host: smtp.example.org, dkim: {domain: example.org, selector: s1}", "mail.dkim.private_key_file", "this setting is required"},
		{"dkim key missing", "host: smtp.example.org, dkim: {domain: example.org, selector: s1, private_key_file: /nowhere.pem}", "mail.dkim.private_key_file", "no such file"},
		{"dkim bad domain", "host: smtp.example.org, dkim: {domain: \"example org\", selector: s1, private_key_file: /etc/idp/dkim.pem}", "mail.dkim.domain", "not a domain name"},
		{"dkim unknown key", "host: smtp.example.org, dkim: {domain: example.org, selector: s1, private_key_file: /etc/idp/dkim.pem, key: x}", "mail.dkim", `unknown key "key"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			yaml := minimalExcept(t, "mail") + "mail: {" + tt.section + "}\n"
			_, errs := parse(t, yaml, map[string]string{"/etc/idp/dkim.pem": "a key"})
			if len(errs) != 1 {
				t.Fatalf("want 1 problem, got %d:\n%v", len(errs), errs)
			}
			line := strings.Count(minimalExcept(t, "mail"), "\n") + 1
			if p := errs[0]; p.Path != tt.path || p.Line != line || !strings.Contains(p.Message, tt.inMsg) {
				t.Errorf("got %s\nwant line %d, path %q, message containing %q", p, line, tt.path, tt.inMsg)
			}
			if strings.Contains(errs[0].Message, "s3cret") {
				t.Error("the message quotes a secret")
			}
		})
	}
}
