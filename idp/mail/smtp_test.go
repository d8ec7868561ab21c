package mail

import (
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestSMTPModes runs each TLS mode against a real relay (the testenv sink,
// with a certificate made for the test and trusted through CAFile), with
// AUTH, and checks that StartTLS never falls back to clear text.
func TestSMTPModes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		sink      testenv.SMTPSecurity
		mode      TLSMode
		trustCA   bool
		wantTLS   bool
		wantError string // "" delivered; else not delivered, and the log says this
	}{
		{"starttls", testenv.SMTPStartTLS, StartTLS, true, true, ""},
		{"implicit TLS", testenv.SMTPImplicitTLS, ImplicitTLS, true, true, ""},
		{"plain to a loopback relay", testenv.SMTPNoTLS, Plain, false, false, ""},
		{"starttls to a relay without it", testenv.SMTPNoTLS, StartTLS, false, false, "does not support STARTTLS"},
		{"starttls with an untrusted certificate", testenv.SMTPStartTLS, StartTLS, false, false, "certificate"},
		{"implicit TLS to a plain relay", testenv.SMTPNoTLS, ImplicitTLS, false, false, "tls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := miniredis.RunT(t)
			c := redis.NewClient(&redis.Options{Addr: m.Addr()})
			t.Cleanup(func() { _ = c.Close() })
			sink := testenv.StartSMTPWith(t, testenv.SMTPOptions{Security: tt.sink})
			cfg := testConfig(c, sink, testenv.NewClock(clockStart))
			cfg.SMTP = SMTP{Host: sink.Host, Port: sink.Port, TLS: tt.mode, Username: "idp", Password: "s3cret", HELO: "idp.example.org", Timeout: 2 * time.Second}
			if tt.trustCA {
				cfg.SMTP.CAFile = sink.CAFile
			}
			enqueue(t, newOutbox(t, cfg), plainMessage(jeanne))
			logs := runSender(t, cfg)
			if tt.wantError == "" {
				got := sink.WaitForMessages(t, 1, 10*time.Second)[0]
				if got.TLS != tt.wantTLS || got.AuthUser != "idp" {
					t.Errorf("TLS %v, AUTH user %q; want TLS %v, idp", got.TLS, got.AuthUser, tt.wantTLS)
				}
				return
			}
			waitFor(t, 10*time.Second, "a failed attempt in the log", func() bool { return strings.Contains(logs.String(), "will retry") })
			if n := len(sink.Messages()); n != 0 {
				t.Errorf("%d messages delivered", n)
			}
			if !strings.Contains(logs.String(), tt.wantError) {
				t.Errorf("log lacks %q:\n%s", tt.wantError, logs)
			}
			if p := pending(t, c, "test:"); len(p) != 1 {
				t.Errorf("pending = %+v, want the mail kept for a retry", p)
			}
			noneOf(t, "the log", logs.String(), "s3cret", jeanne)
		})
	}
}
