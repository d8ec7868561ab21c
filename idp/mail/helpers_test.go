package mail

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// backend is a Redis implementation the tests run against. expire lets
// keys' TTLs run out by d: redis-server counts real time, miniredis only
// what it is told (FastForward).
type backend struct {
	name  string
	start func(t *testing.T) (c redis.UniversalClient, expire func(d time.Duration))
}

func backends() []backend {
	return []backend{
		{"redis-server", func(t *testing.T) (redis.UniversalClient, func(time.Duration)) {
			return testenv.StartRedis(t).Client(t), func(time.Duration) {}
		}},
		{"miniredis", func(t *testing.T) (redis.UniversalClient, func(time.Duration)) {
			m := miniredis.RunT(t)
			c := redis.NewClient(&redis.Options{Addr: m.Addr()})
			t.Cleanup(func() { _ = c.Close() })
			return c, m.FastForward
		}},
	}
}

// eachBackend runs test once per backend, in parallel subtests.
func eachBackend(t *testing.T, test func(t *testing.T, c redis.UniversalClient)) {
	t.Helper()
	eachBackendExpiring(t, func(t *testing.T, c redis.UniversalClient, _ func(time.Duration)) { test(t, c) })
}

// eachBackendExpiring is eachBackend for tests that wait for TTLs.
func eachBackendExpiring(t *testing.T, test func(t *testing.T, c redis.UniversalClient, expire func(time.Duration))) {
	t.Helper()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			c, expire := be.start(t)
			test(t, c, expire)
		})
	}
}

// clockStart is where the tests' clock (testenv.NewClock(clockStart), the
// injected Config.Now) starts before they move it forward.
var clockStart = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

var testKey = [32]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}

// testConfig sends to sink (plain SMTP on loopback) with short delays.
func testConfig(c redis.UniversalClient, sink *testenv.SMTPSink, clk *testenv.Clock) Config {
	return Config{
		Client:        c,
		Prefix:        "test:",
		Key:           testKey,
		SMTP:          SMTP{Host: sink.Host, Port: sink.Port, TLS: Plain, Timeout: 5 * time.Second},
		RetryDelay:    50 * time.Millisecond,
		MaxRetryDelay: 200 * time.Millisecond,
		Block:         50 * time.Millisecond,
		Consumer:      "sender-a",
		Now:           clk.Now,
	}
}

// noneOf fails if text contains any of secrets.
func noneOf(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s reveals %q", what, s)
		}
	}
}

// runSender starts a Sender and stops it in t.Cleanup; it returns its log.
func runSender(t *testing.T, cfg Config) *testenv.Buffer {
	t.Helper()
	logs := &testenv.Buffer{}
	s, err := NewSender(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return logs
}

func newOutbox(t *testing.T, cfg Config) *Outbox {
	t.Helper()
	o, err := NewOutbox(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func enqueue(t *testing.T, o *Outbox, m Message) {
	t.Helper()
	if err := o.Enqueue(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testenv.Eventually(t, timeout, func() (bool, string) { return cond(), "waiting for " + what })
}

// streamLen is the number of entries of a stream (0 when it does not exist).
func streamLen(t *testing.T, c redis.UniversalClient, key string) int64 {
	t.Helper()
	n, err := c.XLen(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// pending lists the outbox's pending entries.
func pending(t *testing.T, c redis.UniversalClient, prefix string) []redis.XPendingExt {
	t.Helper()
	p, err := c.XPendingExt(context.Background(), &redis.XPendingExtArgs{
		Stream: outboxKey(prefix), Group: group, Start: "-", End: "+", Count: 1000,
	}).Result()
	if err != nil && !strings.HasPrefix(err.Error(), "NOGROUP") {
		t.Fatal(err)
	}
	return p
}

// deadLetters returns the dead-letter entries.
func deadLetters(t *testing.T, c redis.UniversalClient, prefix string) []redis.XMessage {
	t.Helper()
	msgs, err := c.XRange(context.Background(), deadKey(prefix), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func plainMessage(to string) Message {
	return Message{To: to, Subject: "Essai", Text: "Bonjour", HTML: `<html lang="fr"><body><p>Bonjour</p></body></html>`}
}
