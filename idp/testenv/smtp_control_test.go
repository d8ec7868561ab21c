package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wneessen/go-mail"
)

func sendTo(t *testing.T, sink *SMTPSink, rcpt string, opts ...mail.Option) error {
	t.Helper()
	c, err := mail.NewClient(sink.Host, append([]mail.Option{mail.WithPort(sink.Port), mail.WithTimeout(5 * time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	m := mail.NewMsg()
	if err := m.From("noreply@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := m.To(rcpt); err != nil {
		t.Fatal(err)
	}
	m.Subject("Test")
	m.SetBodyString(mail.TypeTextPlain, "Bonjour")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.DialAndSendWithContext(ctx, m)
}

func noTLS() mail.Option { return mail.WithTLSPolicy(mail.NoTLS) }

// TestSMTPStopStart: a stopped sink refuses connections; started again, it
// listens on the same port and keeps what it had received.
func TestSMTPStopStart(t *testing.T) {
	t.Parallel()
	sink := StartSMTP(t)
	if err := sendTo(t, sink, "a@example.org", noTLS()); err != nil {
		t.Fatal(err)
	}
	addr := sink.Addr
	sink.Stop(t)
	sink.Stop(t) // twice is harmless
	if err := sendTo(t, sink, "b@example.org", noTLS()); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("send to a stopped sink: %v, want connection refused", err)
	}
	sink.Start(t)
	sink.Start(t) // twice is harmless
	if sink.Addr != addr {
		t.Fatalf("address changed: %s, was %s", sink.Addr, addr)
	}
	if err := sendTo(t, sink, "c@example.org", noTLS()); err != nil {
		t.Fatal(err)
	}
	msgs := sink.WaitForMessages(t, 2, 5*time.Second)
	if len(msgs) != 2 || msgs[0].To[0] != "a@example.org" || msgs[1].To[0] != "c@example.org" {
		t.Errorf("messages = %+v", msgs)
	}
}

// TestSMTPFailures: the refusals come out of go-mail as the temporary and
// permanent errors a sender branches on, and every attempt is counted.
func TestSMTPFailures(t *testing.T) {
	t.Parallel()
	sink := StartSMTP(t)
	sink.RejectRecipient("Nobody@Example.org")
	tests := []struct {
		name     string
		tempFail bool
		rcpt     string
		wantCode int // 0: delivered
	}{
		{"temporary failure", true, "a@example.org", 451},
		{"rejected recipient", false, "nobody@example.org", 550},
		{"back to normal", false, "a@example.org", 0},
	}
	for i, tt := range tests {
		sink.SetTemporaryFailure(tt.tempFail)
		err := sendTo(t, sink, tt.rcpt, noTLS())
		var se *mail.SendError
		switch {
		case tt.wantCode == 0 && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.wantCode != 0 && !errors.As(err, &se):
			t.Errorf("%s: err = %v, want a *mail.SendError", tt.name, err)
		case tt.wantCode != 0 && (se.ErrorCode() != tt.wantCode || se.IsTemp() != (tt.wantCode < 500)):
			t.Errorf("%s: code %d temp %v, want %d", tt.name, se.ErrorCode(), se.IsTemp(), tt.wantCode)
		}
		if got := sink.Transactions(); got != i+1 {
			t.Errorf("%s: %d transactions, want %d", tt.name, got, i+1)
		}
	}
	if msgs := sink.Messages(); len(msgs) != 1 {
		t.Errorf("%d messages kept, want 1", len(msgs))
	}
}

// TestSMTPTLS: both TLS variants work with a client that trusts CAFile and
// verifies the certificate; a client that requires STARTTLS refuses a sink
// that does not offer it rather than sending in clear.
func TestSMTPTLS(t *testing.T) {
	t.Parallel()
	trusting := func(t *testing.T, sink *SMTPSink) mail.Option {
		pem, err := os.ReadFile(sink.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			t.Fatal("CAFile holds no certificate")
		}
		return mail.WithTLSConfig(&tls.Config{ServerName: sink.Host, RootCAs: pool, MinVersion: tls.VersionTLS12})
	}
	auth := []mail.Option{mail.WithSMTPAuth(mail.SMTPAuthPlain), mail.WithUsername("idp"), mail.WithPassword("pw")}
	t.Run("starttls", func(t *testing.T) {
		t.Parallel()
		sink := StartSMTPWith(t, SMTPOptions{Security: SMTPStartTLS})
		if err := sendTo(t, sink, "a@example.org", append(auth, mail.WithTLSPolicy(mail.TLSMandatory), trusting(t, sink))...); err != nil {
			t.Fatal(err)
		}
		if m := sink.WaitForMessages(t, 1, 5*time.Second)[0]; !m.TLS || m.AuthUser != "idp" {
			t.Errorf("TLS %v, auth user %q", m.TLS, m.AuthUser)
		}
	})
	t.Run("implicit TLS", func(t *testing.T) {
		t.Parallel()
		sink := StartSMTPWith(t, SMTPOptions{Security: SMTPImplicitTLS})
		if err := sendTo(t, sink, "a@example.org", mail.WithSSL(), trusting(t, sink)); err != nil {
			t.Fatal(err)
		}
		sink.Stop(t)
		sink.Start(t) // still TLS after a restart
		if err := sendTo(t, sink, "b@example.org", mail.WithSSL(), trusting(t, sink)); err != nil {
			t.Fatal(err)
		}
		for _, m := range sink.WaitForMessages(t, 2, 5*time.Second) {
			if !m.TLS {
				t.Error("message received without TLS")
			}
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		t.Parallel()
		sink := StartSMTPWith(t, SMTPOptions{Security: SMTPStartTLS})
		if err := sendTo(t, sink, "a@example.org", mail.WithTLSPolicy(mail.TLSMandatory)); err == nil {
			t.Error("a certificate nobody trusts was accepted")
		}
	})
	t.Run("no STARTTLS offered", func(t *testing.T) {
		t.Parallel()
		sink := StartSMTP(t)
		err := sendTo(t, sink, "a@example.org", mail.WithTLSPolicy(mail.TLSMandatory))
		if err == nil || !strings.Contains(err.Error(), "does not support STARTTLS") {
			t.Errorf("err = %v, want a refusal to send without STARTTLS", err)
		}
		if n := len(sink.Messages()); n != 0 {
			t.Errorf("%d messages sent in clear", n)
		}
	})
}
