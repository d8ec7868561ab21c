package ldapsync

import (
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/ldapconn"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
	"github.com/region-nouvelle-aquitaine/idp/ldapsync/directory"
)

// env is slapd (12 characters minimum, history of 3), redis-server, the
// worker's key pair and the web tier's signing key, the web tier's side of the queue and a clock. At the end of the
// test it checks that neither Redis nor the logs show any password used.
type env struct {
	s      *testenv.Slapd
	rdb    redis.UniversalClient
	clk    *testenv.Clock // the injected clock of the queue and the workers
	q      *job.Queue
	key    hpke.PrivateKey
	sealer *job.Sealer
	signer *job.Signer // the web tier's key
	webKey ed25519.PublicKey
	dir    *directory.Writer
	logs   *testenv.Buffer
	log    *slog.Logger

	mu      sync.Mutex
	secrets []string
}

func newEnv(t *testing.T, opts testenv.SlapdOptions) *env {
	t.Helper()
	opts.MinLength, opts.InHistory = 12, 3
	e := &env{
		s:    testenv.StartSlapd(t, opts),
		rdb:  testenv.StartRedis(t).Client(t),
		clk:  testenv.NewClock(time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)),
		logs: &testenv.Buffer{},
	}
	e.log = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var err error
	if e.key, err = job.GenerateKey(); err != nil {
		t.Fatal(err)
	}
	e.sealer, _ = job.NewSealer(e.key.PublicKey())
	sk, err := job.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	e.signer, _ = job.NewSigner(sk)
	e.webKey = sk.Public().(ed25519.PublicKey)
	e.q = job.NewQueue(job.Options{Client: e.rdb, Prefix: "test:", Now: e.clk.Now})
	e.dir, err = directory.New(directory.Config{
		Config: ldapconn.Config{URLs: []string{e.s.URL}, BindDN: e.s.WriterDN, BindPassword: e.s.WriterPassword, Timeout: 2 * time.Second},
		BaseDN: e.s.BaseDN,
	}, e.log)
	if err != nil {
		t.Fatal(err)
	}
	e.secrets = append(e.secrets, e.s.WriterPassword)
	for _, u := range testenv.Users() {
		e.secrets = append(e.secrets, u.Password)
	}
	// Registered after StartRedis, so it runs while Redis still does.
	t.Cleanup(func() { e.checkNoSecrets(t) })
	return e
}

// worker returns a Worker on the env's queue, key, directory and clock.
func (e *env) worker(name string, edit func(*Worker)) *Worker {
	opener, _ := job.NewOpener(e.key)
	verifier, _ := job.NewVerifier(e.webKey)
	w := &Worker{
		Queue:  job.NewQueue(job.Options{Client: e.rdb, Prefix: "test:", Now: e.clk.Now}),
		Opener: opener, Verifier: verifier, Writer: e.dir, Clock: e.clk.Now, Log: e.log, Name: name,
		Lease: 30 * time.Second, RetryBackoff: 10 * time.Second, MaxRetryBackoff: time.Minute,
		RetryLimit: 3, PollInterval: 5 * time.Millisecond,
	}
	if edit != nil {
		edit(w)
	}
	return w
}

// start runs w until the returned stop is called (or the test ends).
func start(t *testing.T, w *Worker) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// submit queues a change of uid's password, as the web tier would.
func (e *env) submit(t *testing.T, uid, password string) job.Job {
	t.Helper()
	return e.submitAs(t, e.s.EntryUUID(t, uid), uid, password, e.sealer)
}

func (e *env) submitAs(t *testing.T, subject, login, password string, s *job.Sealer) job.Job {
	t.Helper()
	e.mu.Lock()
	e.secrets = append(e.secrets, password)
	e.mu.Unlock()
	now := e.clk.Now()
	j := job.Job{ID: job.NewID(), Subject: subject, Login: login, CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute)}
	var err error
	if j.Sealed, err = s.Seal(j, password); err != nil {
		t.Fatal(err)
	}
	if err := e.signer.Sign(&j); err != nil {
		t.Fatal(err)
	}
	if err := e.q.Enqueue(context.Background(), j); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	return j
}

// waitFor polls the status of id until ok accepts it (10 s at most).
func (e *env) waitFor(t *testing.T, id string, what string, ok func(job.Status) bool) job.Status {
	t.Helper()
	var st job.Status
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		var err error
		st, err = e.q.Status(context.Background(), id)
		return err == nil && ok(st), fmt.Sprintf("job %s not %s; status %+v, %v", id, what, st, err)
	})
	return st
}

func (e *env) waitSettled(t *testing.T, id string) job.Status {
	t.Helper()
	return e.waitFor(t, id, "settled", func(st job.Status) bool { return st.State.Settled() })
}

func seeded(uid string) testenv.User {
	for _, u := range testenv.Users() {
		if u.UID == uid {
			return u
		}
	}
	panic("no seeded user " + uid)
}

// dumpRedis returns every key and value in Redis, as a dump would show.
func dumpRedis(t *testing.T, c redis.UniversalClient) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	iter := c.Scan(ctx, 0, "*", 100).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		typ := c.Type(ctx, k).Val()
		var v any
		switch typ {
		case "string":
			v = c.Get(ctx, k).Val()
		case "hash":
			v = c.HGetAll(ctx, k).Val()
		case "zset":
			v = c.ZRangeWithScores(ctx, k, 0, -1).Val()
		case "stream":
			v = c.XRange(ctx, k, "-", "+").Val()
		case "list":
			v = c.LRange(ctx, k, 0, -1).Val()
		case "set":
			v = c.SMembers(ctx, k).Val()
		}
		fmt.Fprintf(&b, "%s (%s): %v\n", k, typ, v)
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("scan: %v", err)
	}
	return b.String()
}

func (e *env) checkNoSecrets(t *testing.T) {
	dump := dumpRedis(t, e.rdb)
	if !strings.Contains(dump, "{pwchange}") {
		t.Error("the Redis dump shows no queue key; the check would prove nothing")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, pw := range e.secrets {
		if strings.Contains(dump, pw) {
			t.Errorf("the Redis dump contains the password %q", pw)
		}
		if strings.Contains(e.logs.String(), pw) {
			t.Errorf("the logs contain the password %q", pw)
		}
	}
}
