package job

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// eachBackend runs test against redis-server and miniredis, in parallel.
func eachBackend(t *testing.T, test func(t *testing.T, c redis.UniversalClient)) {
	t.Helper()
	backends := []struct {
		name  string
		start func(t *testing.T) redis.UniversalClient
	}{
		{"redis-server", func(t *testing.T) redis.UniversalClient { return testenv.StartRedis(t).Client(t) }},
		{"miniredis", func(t *testing.T) redis.UniversalClient {
			m := miniredis.RunT(t)
			c := redis.NewClient(&redis.Options{Addr: m.Addr()})
			t.Cleanup(func() { _ = c.Close() })
			return c
		}},
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			test(t, be.start(t))
		})
	}
}

// fixture is a queue on a fresh Redis with a key pair and a clock.
type fixture struct {
	c      redis.UniversalClient
	q      *Queue
	clk    *testenv.Clock // the queue's Options.Now, moved forward by the tests
	sealer *Sealer
	opener *Opener
}

func newFixture(t testing.TB, c redis.UniversalClient) *fixture {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSealer(k.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	o, err := NewOpener(k)
	if err != nil {
		t.Fatal(err)
	}
	clk := testenv.NewClock(time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC))
	return &fixture{
		c: c, clk: clk, sealer: s, opener: o,
		q: NewQueue(Options{Client: c, Prefix: "test:", Now: clk.Now, StatusTTL: 10 * time.Minute, Slack: time.Minute}),
	}
}

// job makes a sealed job for subject, expiring in 10 minutes.
func (f *fixture) job(t testing.TB, subject, login, password string) Job {
	t.Helper()
	now := f.clk.Now()
	j := Job{ID: NewID(), Subject: subject, Login: login, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	var err error
	if j.Sealed, err = f.sealer.Seal(j, password); err != nil {
		t.Fatal(err)
	}
	return j
}

func (f *fixture) enqueue(t testing.TB, subject, login, password string) Job {
	t.Helper()
	j := f.job(t, subject, login, password)
	if err := f.q.Enqueue(context.Background(), j); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	return j
}

func (f *fixture) claim(t testing.TB, worker string, lease time.Duration) *Job {
	t.Helper()
	j, err := f.q.Claim(context.Background(), worker, lease)
	if err != nil {
		t.Fatalf("Claim(%s): %v", worker, err)
	}
	return j
}

func (f *fixture) status(t testing.TB, id string) Status {
	t.Helper()
	st, err := f.q.Status(context.Background(), id)
	if err != nil {
		t.Fatalf("Status(%s): %v", id, err)
	}
	return st
}

func (f *fixture) events(t testing.TB) []Event {
	t.Helper()
	msgs, err := f.c.XRange(context.Background(), f.q.EventsStream(), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]Event, 0, len(msgs))
	for _, m := range msgs {
		e, err := ParseEvent(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func startRedisB(b *testing.B) redis.UniversalClient { return testenv.StartRedis(b).Client(b) }

func startMiniredisB(b *testing.B) redis.UniversalClient {
	m := miniredis.RunT(b)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	b.Cleanup(func() { _ = c.Close() })
	return c
}

// annuaire and messagerie are two targets' outcomes, as the tests of
// per-target progress use them.
func annuaire(st State, r Reason) TargetOutcome {
	return TargetOutcome{Name: "annuaire", Label: "l’annuaire des usagers", State: st, Reason: r}
}

func messagerie(st State, r Reason) TargetOutcome {
	return TargetOutcome{Name: "messagerie", Label: "la messagerie des lycées", State: st, Reason: r}
}
