package mail

import (
	"context"
	"io"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
	"github.com/region-nouvelle-aquitaine/idp/views/email"
)

const (
	jeanne    = "jeanne.dupont@example.org"
	resetCode = "T3A8XQ"
	linkToken = "q2Vt9yZ3b0JmX1pHc2lZbkVzbw"
	resetLink = "https://connexion.example.org/mot-de-passe-perdu/lien/" + linkToken
)

// resetMail is the real reset-code mail, as idp/reset will queue it.
func resetMail(t *testing.T) Message {
	t.Helper()
	m, err := email.RenderResetCode(context.Background(), email.ResetCode{Code: resetCode, Link: resetLink, Validity: 10 * time.Minute, PrivacyURL: "https://idp.example/donnees-personnelles"})
	if err != nil {
		t.Fatal(err)
	}
	return Message{To: jeanne, Subject: m.Subject, Text: m.Text, HTML: m.HTML}
}

// TestDeliver: an enqueued mail reaches the relay once, to one recipient,
// with the From, Subject and headers the mails need and both parts
// carrying the code and the link; then nothing of it is left in the outbox
// and nothing of it was logged.
func TestDeliver(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		sink, clk := testenv.StartSMTP(t), testenv.NewClock(clockStart)
		cfg := testConfig(c, sink, clk)
		enqueue(t, newOutbox(t, cfg), resetMail(t))
		logs := runSender(t, cfg)

		got := sink.WaitForMessages(t, 1, 10*time.Second)[0]
		if got.From != DefaultFromAddress || !slices.Equal(got.To, []string{jeanne}) {
			t.Errorf("envelope %q -> %q, want %s -> [%s]", got.From, got.To, DefaultFromAddress, jeanne)
		}
		checkResetMail(t, got.Data, clk.Now())

		waitFor(t, 5*time.Second, "the outbox to empty", func() bool { return streamLen(t, c, outboxKey("test:")) == 0 })
		if p := pending(t, c, "test:"); len(p) != 0 {
			t.Errorf("still pending: %+v", p)
		}
		time.Sleep(5 * cfg.MaxRetryDelay)
		if n := len(sink.Messages()); n != 1 {
			t.Errorf("%d messages delivered, want 1", n)
		}
		noneOf(t, "the log", logs.String(), resetCode, linkToken, jeanne, "Validation du changement")
		if !strings.Contains(logs.String(), "mail: sent") {
			t.Errorf("no log of the delivery:\n%s", logs)
		}
	})
}

// checkResetMail parses the raw message as a mail client would.
func checkResetMail(t *testing.T, data []byte, enqueued time.Time) {
	t.Helper()
	msg, err := netmail.ReadMessage(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	words := new(mime.WordDecoder)
	from, err := (&netmail.AddressParser{WordDecoder: words}).Parse(h.Get("From"))
	if err != nil || from.Name != "Région Nouvelle-Aquitaine" || from.Address != DefaultFromAddress {
		t.Errorf("From = %q (%v), want « Région Nouvelle-Aquitaine » <%s>", h.Get("From"), err, DefaultFromAddress)
	}
	if to, err := h.AddressList("To"); err != nil || len(to) != 1 || to[0].Address != jeanne {
		t.Errorf("To = %q, want only %s", h.Get("To"), jeanne)
	}
	if subject, _ := words.DecodeHeader(h.Get("Subject")); subject != "Validation du changement de mot de passe" {
		t.Errorf("Subject = %q", subject)
	}
	if date, err := h.Date(); err != nil || !date.Equal(enqueued) {
		t.Errorf("Date = %q (%v), want the enqueue time %s", h.Get("Date"), err, enqueued)
	}
	for name, want := range map[string]string{"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All", "Mime-Version": "1.0"} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if id := h.Get("Message-Id"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@motdepasse.nouvelle-aquitaine.fr>") || len(id) < 30 {
		t.Errorf("Message-ID = %q, want a random id in our domain", id)
	}
	for _, name := range []string{"User-Agent", "X-Mailer", "Cc", "Bcc", "Reply-To"} {
		if v := h.Get(name); v != "" {
			t.Errorf("unexpected header %s: %q", name, v)
		}
	}
	mediaType, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type = %q, want multipart/alternative", h.Get("Content-Type"))
	}
	parts := multipart.NewReader(msg.Body, params["boundary"])
	var types []string
	for {
		p, err := parts.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(p) // quoted-printable is decoded by the reader
		if err != nil {
			t.Fatal(err)
		}
		ct, ctParams, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		types = append(types, ct)
		if !strings.EqualFold(ctParams["charset"], "utf-8") {
			t.Errorf("%s part charset %q", ct, ctParams["charset"])
		}
		for _, want := range []string{resetCode, resetLink, "Si vous n’êtes pas l’initiateur", "Nouvelle-Aquitaine"} {
			if !strings.Contains(string(body), want) {
				t.Errorf("%s part lacks %q", ct, want)
			}
		}
		if ct == "text/html" && !strings.Contains(string(body), `<html lang="fr">`) {
			t.Error(`HTML part lacks <html lang="fr">`)
		}
	}
	if !slices.Equal(types, []string{"text/plain", "text/html"}) {
		t.Errorf("parts %q, want text/plain then text/html", types)
	}
}

// TestRelayDown: with the relay down, Enqueue still returns at once; the
// Sender keeps retrying, and the mail arrives once the relay is back.
func TestRelayDown(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		sink, clk := testenv.StartSMTP(t), testenv.NewClock(clockStart)
		cfg := testConfig(c, sink, clk)
		logs := runSender(t, cfg)
		sink.Stop(t)
		start := time.Now()
		enqueue(t, newOutbox(t, cfg), plainMessage(jeanne))
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("Enqueue took %s with the relay down", d)
		}
		waitFor(t, 10*time.Second, "several failed attempts", func() bool {
			p := pending(t, c, "test:")
			return len(p) == 1 && p[0].RetryCount >= 3
		})
		sink.Start(t)
		sink.WaitForMessages(t, 1, 10*time.Second)
		time.Sleep(5 * cfg.MaxRetryDelay)
		if n := len(sink.Messages()); n != 1 {
			t.Errorf("%d messages, want 1", n)
		}
		if !strings.Contains(logs.String(), "connection refused") {
			t.Errorf("the failures were not logged:\n%s", logs)
		}
	})
}

// TestFailures: a 4xx is retried until it passes; a 5xx goes to the dead
// letters at once, without a second attempt, while other mail flows.
func TestFailures(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		t.Run("temporary", func(t *testing.T) {
			sink, clk := testenv.StartSMTP(t), testenv.NewClock(clockStart)
			cfg := testConfig(c, sink, clk)
			cfg.Prefix = "temp:"
			sink.SetTemporaryFailure(true)
			enqueue(t, newOutbox(t, cfg), plainMessage(jeanne))
			runSender(t, cfg)
			waitFor(t, 10*time.Second, "three refused attempts", func() bool { return sink.Transactions() >= 3 })
			sink.SetTemporaryFailure(false)
			sink.WaitForMessages(t, 1, 10*time.Second)
			if d := deadLetters(t, c, "temp:"); len(d) != 0 {
				t.Errorf("dead letters: %v", d)
			}
		})
		t.Run("permanent", func(t *testing.T) {
			sink, clk := testenv.StartSMTP(t), testenv.NewClock(clockStart)
			cfg := testConfig(c, sink, clk)
			cfg.Prefix = "perm:"
			sink.RejectRecipient("nobody@example.org")
			o := newOutbox(t, cfg)
			enqueue(t, o, plainMessage("nobody@example.org"))
			enqueue(t, o, plainMessage(jeanne))
			logs := runSender(t, cfg)
			sink.WaitForMessages(t, 1, 10*time.Second)
			waitFor(t, 10*time.Second, "a dead letter", func() bool { return len(deadLetters(t, c, "perm:")) == 1 })
			time.Sleep(5 * cfg.MaxRetryDelay)
			if n := sink.Transactions(); n != 2 {
				t.Errorf("%d SMTP transactions, want 2: the refused mail was retried", n)
			}
			d := deadLetters(t, c, "perm:")[0].Values
			if r, _ := d["reason"].(string); !strings.Contains(r, "SMTP 550 5.1.1") || d["attempts"] != "1" {
				t.Errorf("dead letter = %v", d)
			}
			if streamLen(t, c, outboxKey("perm:")) != 0 || len(pending(t, c, "perm:")) != 0 {
				t.Error("the refused mail is still in the outbox")
			}
			noneOf(t, "the log", logs.String(), "nobody@example.org")
			if !strings.Contains(logs.String(), "level=ERROR") {
				t.Errorf("giving up was not logged as an error:\n%s", logs)
			}
		})
	})
}

// TestGiveUp: a mail not sent within GiveUpAfter of its enqueue time, by
// the injected clock, goes to the dead letters and is never sent.
func TestGiveUp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		startFirst bool // the Sender tries (and fails) before the clock moves
	}{
		{"after failed attempts", true},
		{"before any attempt", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
				sink, clk := testenv.StartSMTP(t), testenv.NewClock(clockStart)
				cfg := testConfig(c, sink, clk)
				sink.SetTemporaryFailure(true)
				enqueue(t, newOutbox(t, cfg), plainMessage(jeanne))
				if tt.startFirst {
					runSender(t, cfg)
					waitFor(t, 10*time.Second, "a refused attempt", func() bool { return sink.Transactions() >= 1 })
				}
				clk.Advance(time.Hour)
				if !tt.startFirst {
					runSender(t, cfg)
				}
				waitFor(t, 10*time.Second, "a dead letter", func() bool { return len(deadLetters(t, c, "test:")) == 1 })
				tried := sink.Transactions()
				if !tt.startFirst && tried != 0 {
					t.Errorf("%d attempts after the deadline", tried)
				}
				sink.SetTemporaryFailure(false)
				time.Sleep(5 * cfg.MaxRetryDelay)
				if n := sink.Transactions(); n != tried || len(sink.Messages()) != 0 {
					t.Errorf("sent after giving up: %d attempts, %d messages", n-tried, len(sink.Messages()))
				}
				if r, _ := deadLetters(t, c, "test:")[0].Values["reason"].(string); !strings.Contains(r, "not sent within 1h0m0s") {
					t.Errorf("reason = %q", r)
				}
			})
		})
	}
}
