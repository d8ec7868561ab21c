package testenv

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wneessen/go-mail"
)

func TestSMTP(t *testing.T) {
	t.Parallel()
	sink := StartSMTP(t)
	tests := []struct {
		name string
		opts []mail.Option
	}{
		{"no auth", nil},
		{"auth plain", []mail.Option{mail.WithSMTPAuth(mail.SMTPAuthPlain), mail.WithUsername("u"), mail.WithPassword("p")}},
	}
	for i, tc := range tests {
		opts := append([]mail.Option{mail.WithPort(sink.Port), mail.WithTLSPolicy(mail.NoTLS)}, tc.opts...)
		c, err := mail.NewClient(sink.Host, opts...)
		if err != nil {
			t.Fatal(err)
		}
		m := mail.NewMsg()
		if err := m.From("noreply@example.org"); err != nil {
			t.Fatal(err)
		}
		if err := m.To("jeanne.dupont@example.org"); err != nil {
			t.Fatal(err)
		}
		m.Subject("Code de vérification")
		m.SetBodyString(mail.TypeTextPlain, "Votre code : 123456")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = c.DialAndSendWithContext(ctx, m)
		cancel()
		if err != nil {
			t.Fatalf("%s: send: %v", tc.name, err)
		}
		msgs := sink.WaitForMessages(t, i+1, 5*time.Second)
		got := msgs[i]
		if got.From != "noreply@example.org" || len(got.To) != 1 || got.To[0] != "jeanne.dupont@example.org" {
			t.Errorf("%s: envelope = %q -> %q", tc.name, got.From, got.To)
		}
		if !strings.Contains(string(got.Data), "Subject: =?UTF-8?q?Code_de_v=C3=A9rification?=") {
			t.Errorf("%s: message lacks the subject:\n%s", tc.name, got.Data)
		}
	}
}
