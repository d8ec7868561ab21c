package mail

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

func TestMessageValidate(t *testing.T) {
	t.Parallel()
	ok := plainMessage(jeanne)
	tests := []struct {
		name string
		edit func(*Message)
		want string // "" valid
	}{
		{"valid", func(*Message) {}, ""},
		{"text only", func(m *Message) { m.HTML = "" }, ""},
		{"unicode local part", func(m *Message) { m.To = "élodie@example.org" }, ""},
		{"no recipient", func(m *Message) { m.To = "" }, "no recipient"},
		{"CRLF injection", func(m *Message) { m.To = jeanne + "\r\nBcc: evil@example.net" }, "control characters"},
		{"LF", func(m *Message) { m.To = "a@x\n" }, "control characters"},
		{"NUL", func(m *Message) { m.To = "a@x\x00" }, "control characters"},
		{"two recipients", func(m *Message) { m.To = "a@example.org, b@example.org" }, "not an address"},
		{"display name", func(m *Message) { m.To = "Jeanne <" + jeanne + ">" }, "bare address"},
		{"angle brackets", func(m *Message) { m.To = "<" + jeanne + ">" }, "bare address"},
		{"spaces around", func(m *Message) { m.To = " " + jeanne }, "bare address"},
		{"not an address", func(m *Message) { m.To = "*)(mail=*" }, "not an address"},
		{"255 octets", func(m *Message) { m.To = strings.Repeat("a", 64) + "@" + strings.Repeat("b", 186) + ".org" }, "longer than 254"},
		{"subject with CRLF", func(m *Message) { m.Subject = "Bonjour\r\nBcc: evil@example.net" }, "subject holds control"},
		{"no subject", func(m *Message) { m.Subject = "" }, "no subject"},
		{"no text", func(m *Message) { m.Text = "" }, "no text part"},
		{"huge body", func(m *Message) { m.HTML = strings.Repeat("x", maxBodyOctets) }, "body longer"},
	}
	for _, tt := range tests {
		m := ok
		tt.edit(&m)
		err := m.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (!errors.Is(err, ErrInvalidMessage) || !strings.Contains(fmt.Sprint(err), tt.want)):
			t.Errorf("%s: err = %v, want ErrInvalidMessage with %q", tt.name, err, tt.want)
		case err != nil && strings.Contains(err.Error(), "example"):
			t.Errorf("%s: the error quotes the address: %v", tt.name, err)
		}
	}
}

// TestEnqueueRefusesInvalid: an invalid message never reaches Redis.
func TestEnqueueRefusesInvalid(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		o := newOutbox(t, testConfig(c, &testenv.SMTPSink{Host: "127.0.0.1", Port: 25}, testenv.NewClock(clockStart)))
		err := o.Enqueue(context.Background(), Message{To: jeanne + "\r\nBcc: x@y", Subject: "s", Text: "t"})
		if !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("Enqueue = %v, want ErrInvalidMessage", err)
		}
		if n := streamLen(t, c, outboxKey("test:")); n != 0 {
			t.Errorf("%d entries queued", n)
		}
	})
}

// TestRedisRevealsNothing: neither the outbox (XRANGE), nor the
// dead letters, nor any other key shows the code, the link token, the
// address or the wording; a Sender with another key cannot read the mail
// and gives up on it at once, without sending anything.
func TestRedisRevealsNothing(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		sink, clk := testenv.StartSMTP(t), testenv.NewClock(clockStart)
		cfg := testConfig(c, sink, clk)
		enqueue(t, newOutbox(t, cfg), resetMail(t))
		secrets := []string{resetCode, linkToken, jeanne, "jeanne", "réinitialisation", "r\xc3\xa9initialisation", "Validation"}

		entries, err := c.XRange(ctx, outboxKey("test:"), "-", "+").Result()
		if err != nil || len(entries) != 1 {
			t.Fatalf("XRANGE: %v, %v", entries, err)
		}
		for k, v := range entries[0].Values {
			noneOf(t, "outbox field "+k, fmt.Sprint(v), secrets...)
		}

		other := cfg
		other.Key[0] ^= 0xff
		logs := runSender(t, other)
		waitFor(t, 10*time.Second, "a dead letter", func() bool { return len(deadLetters(t, c, "test:")) == 1 })
		if r, _ := deadLetters(t, c, "test:")[0].Values["reason"].(string); !strings.Contains(r, "cannot be decrypted") {
			t.Errorf("reason = %q", r)
		}
		if n := sink.Transactions(); n != 0 {
			t.Errorf("%d SMTP transactions for an unreadable mail", n)
		}
		keys, err := c.Keys(ctx, "*").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			noneOf(t, "key name", k, secrets...)
			noneOf(t, "key "+k, keyContent(t, c, k), secrets...)
		}
		noneOf(t, "the log", logs.String(), secrets...)
	})
}

// keyContent is everything Redis holds under k, as text.
func keyContent(t *testing.T, c redis.UniversalClient, k string) string {
	t.Helper()
	ctx := context.Background()
	kind, err := c.Type(ctx, k).Result()
	if err != nil {
		t.Fatal(err)
	}
	switch kind {
	case "string":
		return c.Get(ctx, k).Val()
	case "stream": // miniredis has no DUMP for streams
		return fmt.Sprint(c.XRange(ctx, k, "-", "+").Val())
	}
	dump, err := c.Dump(ctx, k).Result()
	if err != nil {
		t.Fatal(err)
	}
	return dump
}

// TestRedisFlushed: a Sender survives its stream and group disappearing
// (a Redis restarted empty): it creates them again and goes on.
func TestRedisFlushed(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		sink, clk := testenv.StartSMTP(t), testenv.NewClock(clockStart)
		cfg := testConfig(c, sink, clk)
		o := newOutbox(t, cfg)
		runSender(t, cfg)
		enqueue(t, o, plainMessage(jeanne))
		sink.WaitForMessages(t, 1, 10*time.Second)
		if err := c.FlushAll(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
		enqueue(t, o, plainMessage("elodie.lefevre@example.org"))
		sink.WaitForMessages(t, 2, 10*time.Second)
	})
}

func TestConfigRefused(t *testing.T) {
	t.Parallel()
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := Config{Client: c, Key: testKey, SMTP: SMTP{Host: "smtp.example.org"}}
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no client", func(c *Config) { c.Client = nil }, "no Redis client"},
		{"no key", func(c *Config) { c.Key = [32]byte{} }, "no outbox key"},
		{"from with name", func(c *Config) { c.FromAddress = "Région <noreply@example.org>" }, "not a bare address"},
		{"from name with CRLF", func(c *Config) { c.FromName = "Région\r\nBcc: x@y" }, "control characters"},
		{"no host", func(c *Config) { c.SMTP.Host = "" }, "no SMTP host"},
		{"host with port", func(c *Config) { c.SMTP.Host = "smtp.example.org:587" }, "without scheme or port"},
		{"host as URL", func(c *Config) { c.SMTP.Host = "smtp://smtp.example.org" }, "without scheme or port"},
		{"plain to a remote relay", func(c *Config) { c.SMTP.TLS = Plain }, "only allowed to a relay on this machine"},
		{"unknown TLS mode", func(c *Config) { c.SMTP.TLS = "ssl" }, `TLS mode "ssl"`},
		{"bad port", func(c *Config) { c.SMTP.Port = 70000 }, "out of range"},
		{"user without password", func(c *Config) { c.SMTP.Username = "idp" }, "username and password go together"},
		{"HELO with space", func(c *Config) { c.SMTP.HELO = "a b" }, "not a host name"},
		{"CA file without PEM", func(c *Config) { c.SMTP.CAFile = caFile }, "holds no PEM certificate"},
		{"CA file missing", func(c *Config) { c.SMTP.CAFile = caFile + ".missing" }, "no such file"},
		{"CA file with plain", func(c *Config) { c.SMTP = SMTP{Host: "127.0.0.1", TLS: Plain, CAFile: caFile} }, "only used with TLS"},
	}
	for _, tt := range tests {
		cfg := good
		tt.edit(&cfg)
		_, err := NewSender(cfg, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: NewSender = %v, want %q", tt.name, err, tt.want)
		}
	}
	for _, smtp := range []SMTP{
		{Host: "smtp.example.org"}, {Host: "2001:db8::25", TLS: ImplicitTLS},
		{Host: "localhost", TLS: Plain, Username: "u", Password: "p"}, {Host: "::1", TLS: Plain},
	} {
		cfg := good
		cfg.SMTP = smtp
		if _, err := NewSender(cfg, nil); err != nil {
			t.Errorf("NewSender(%+v) = %v", smtp, err)
		}
	}
	if _, err := NewOutbox(Config{Client: c, Key: testKey}); err != nil {
		t.Errorf("NewOutbox without SMTP settings = %v", err)
	}
}

func TestDeriveKey(t *testing.T) {
	t.Parallel()
	a, err := DeriveKey(testKey)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := DeriveKey(testKey)
	other := testKey
	other[31]++
	c, _ := DeriveKey(other)
	if a != b || a == c || a == testKey || a == ([32]byte{}) {
		t.Errorf("DeriveKey is not a deterministic derivation distinct from its input")
	}
}

// BenchmarkEnqueue measures what a page pays to queue a mail: validation,
// sealing and one XADD.
func BenchmarkEnqueue(b *testing.B) {
	for _, be := range []struct {
		name   string
		client func(b *testing.B) redis.UniversalClient
	}{
		{"redis-server", func(b *testing.B) redis.UniversalClient { return testenv.StartRedis(b).Client(b) }},
		{"miniredis", func(b *testing.B) redis.UniversalClient {
			c := redis.NewClient(&redis.Options{Addr: miniredis.RunT(b).Addr()})
			b.Cleanup(func() { _ = c.Close() })
			return c
		}},
	} {
		b.Run(be.name, func(b *testing.B) {
			c := be.client(b)
			o, err := NewOutbox(Config{Client: c, Key: testKey})
			if err != nil {
				b.Fatal(err)
			}
			m := Message{To: jeanne, Subject: "Validation du changement de mot de passe", Text: strings.Repeat("texte ", 200), HTML: strings.Repeat("<p>html</p>", 250)}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := o.Enqueue(ctx, m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
