package admin_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/admin"
	"github.com/region-nouvelle-aquitaine/idp/idp/audit"
	"github.com/region-nouvelle-aquitaine/idp/idp/mail"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/queueadmin"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
	"github.com/region-nouvelle-aquitaine/idp/idp/throttle"
)

var mailKey = [32]byte{7: 7, 31: 1}

// env is the web tier's stores on one redis-server, and a runner of
// `idp admin …` over them as operator alice.
type env struct {
	rdb  redis.UniversalClient
	deps *admin.Deps
	clk  *testenv.Clock
}

func newEnv(t *testing.T) *env {
	t.Helper()
	rdb := testenv.StartRedis(t).Client(t)
	clk := testenv.NewClock(time.Now())
	ob, err := mail.NewOutbox(mail.Config{Client: rdb, Prefix: "test:", Key: mailKey, GiveUpAfter: time.Minute, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &env{rdb: rdb, clk: clk, deps: &admin.Deps{
		Store:  store.New(store.Options{Client: rdb, Prefix: "test:", Now: clk.Now}),
		Outbox: ob,
		Throttle: throttle.New(throttle.Options{Client: rdb, Prefix: "test:throttle:", Now: clk.Now,
			Policy: throttle.Policy{DelayAfter: 2, LockAfter: 3, LockDuration: 15 * time.Minute}}),
		Identifiers: audit.NewIdentifiers([]byte("cookie-key-of-the-test-0123456789")),
		FindSubject: func(_ context.Context, login string) (string, bool, error) {
			if audit.Normalize(login) == "jdupont" {
				return "sub-jdupont", true, nil
			}
			return "", false, nil
		},
	}}
}

func (e *env) run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errs bytes.Buffer
	envf := func(k string) (string, bool) { return "alice", k == "USER" }
	open := func(context.Context, string, io.Writer) (*admin.Deps, *slog.Logger, func(), error) {
		return e.deps, slog.New(slog.NewJSONHandler(&errs, nil)), func() {}, nil
	}
	code = queueadmin.Dispatch(context.Background(), "idp", admin.Commands(), append(args, "--config", "idp.yaml"), &out, &errs, envf, open)
	return code, out.String(), errs.String()
}

func mustContain(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}

func TestMails(t *testing.T) {
	e := newEnv(t)
	sink := testenv.StartSMTP(t)
	cfg := mail.Config{
		Client: e.rdb, Prefix: "test:", Key: mailKey, GiveUpAfter: time.Minute, Now: e.clk.Now,
		SMTP:       mail.SMTP{Host: sink.Host, Port: sink.Port, TLS: mail.Plain, Timeout: 5 * time.Second},
		RetryDelay: 50 * time.Millisecond, Block: 50 * time.Millisecond, Consumer: "sender-test",
	}
	ctx := context.Background()
	secret := "code 482913 pour jeanne"
	if err := e.deps.Outbox.Enqueue(ctx, mail.Message{To: "jeanne@example.org", Subject: "Votre code", Text: secret}); err != nil {
		t.Fatal(err)
	}
	// Older than GiveUpAfter when the sender first looks: given up.
	e.clk.Advance(2 * time.Minute)
	sender, err := mail.NewSender(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	run := func() (stop func()) {
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- sender.Run(runCtx) }()
		var once sync.Once
		stop = func() { once.Do(func() { cancel(); <-done }) }
		t.Cleanup(stop)
		return stop
	}
	stop := run()
	var dead []mail.DeadLetter
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		dead, _ = e.deps.Outbox.DeadLetters(ctx, 0)
		return len(dead) == 1, "waiting for the mail to be given up"
	})
	id := dead[0].ID

	code, out, _ := e.run(t, "mails", "list")
	if code != 0 {
		t.Fatalf("list: exit %d", code)
	}
	mustContain(t, "mails list", out, "Mails given up: 1", id, "attempts=", "not sent within 1m0s")

	code, out, errs := e.run(t, "mails", "resend", id)
	if code != 0 {
		t.Fatalf("resend: exit %d\n%s", code, errs)
	}
	mustContain(t, "resend", out, "Queued mail "+id+" again as outbox entry")
	mustContain(t, "resend audit", errs, `"audit":"admin.mail.resent"`, `"operator":"alice"`, id)
	msgs := sink.WaitForMessages(t, 1, 10*time.Second)
	if got := string(msgs[0].Data); !strings.Contains(got, "482913") || msgs[0].To[0] != "jeanne@example.org" {
		t.Errorf("resent mail: to %v\n%s", msgs[0].To, got)
	}
	for _, s := range []string{out, errs} {
		if strings.Contains(s, "482913") || strings.Contains(s, "jeanne") || strings.Contains(s, "Votre code") {
			t.Errorf("the commands leak the mail:\n%s", s)
		}
	}
	if code, _, errs := e.run(t, "mails", "resend", id); code != 1 || !strings.Contains(errs, "no mail given up with id") {
		t.Errorf("second resend: exit %d, %s", code, errs)
	}

	// A second mail given up, then dropped: gone, never sent. The sender
	// is stopped while it ages, so that its first look finds it too old,
	// as for the first one; the SMTP server stays up, so a mail wrongly
	// sent would show in the sink.
	stop()
	if err := e.deps.Outbox.Enqueue(ctx, mail.Message{To: "paul@example.org", Subject: "Votre code", Text: "code 1"}); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(2 * time.Minute)
	run()
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		dead, _ = e.deps.Outbox.DeadLetters(ctx, 0)
		return len(dead) == 1, "waiting for the second mail to be given up"
	})
	code, out, errs = e.run(t, "mails", "drop", dead[0].ID)
	if code != 0 || !strings.Contains(out, "Deleted mail "+dead[0].ID) || !strings.Contains(errs, `"audit":"admin.mail.dropped"`) {
		t.Errorf("drop: exit %d\n%s%s", code, out, errs)
	}
	if dead, err := e.deps.Outbox.DeadLetters(ctx, 0); err != nil || len(dead) != 0 {
		t.Errorf("after drop: %v, %v", dead, err)
	}
	if n := len(sink.Messages()); n != 1 {
		t.Errorf("%d mails sent, want only the resent one", n)
	}
}

func TestThrottle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	l := e.deps.Throttle
	ip := netip.MustParseAddr("192.0.2.10")
	keys := throttle.Keys{Counter: throttle.IdentifierKey(e.deps.Identifiers.Hash("JDupont"))}
	for range 3 {
		d, err := l.Attempt(ctx, keys, ip)
		if err != nil || !d.Allowed {
			t.Fatalf("attempt: %+v, %v", d, err)
		}
		e.clk.Advance(5 * time.Second) // past each delay
	}
	if d, _ := l.Attempt(ctx, keys, ip); d.Allowed || d.Block.Kind != throttle.Lock {
		t.Fatalf("not locked after 3 failures: %+v", d)
	}

	// The login as typed, another spelling of it: the same counter.
	code, out, _ := e.run(t, "throttle", "show", " jdupont ")
	if code != 0 {
		t.Fatalf("show: exit %d", code)
	}
	mustContain(t, "throttle show", out, `login "jdupont"`, "failures=3", "locked_until=", "account sub-jdupont")
	if code, out, _ := e.run(t, "throttle", "show", "someone-else"); code != 0 || !strings.Contains(out, "failures=0") || !strings.Contains(out, "not held back") {
		t.Errorf("show of a clean login: exit %d\n%s", code, out)
	}

	code, out, errs := e.run(t, "throttle", "clear", "jdupont")
	if code != 0 || !strings.Contains(out, `Cleared the failed sign-ins of login "jdupont"`) {
		t.Fatalf("clear: exit %d\n%s%s", code, out, errs)
	}
	mustContain(t, "clear audit", errs, `"audit":"admin.throttle.cleared"`, `"operator":"alice"`, e.deps.Identifiers.Hash("jdupont"))
	if strings.Contains(errs, "jdupont") {
		t.Errorf("the audit line names the typed login: %s", errs)
	}
	if d, err := l.Attempt(ctx, keys, ip); err != nil || !d.Allowed || d.Failures != 1 {
		t.Errorf("sign-in after clear: %+v, %v", d, err)
	}
}

func TestSessions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	st := e.deps.Store
	const sub = "sub-jdupont"
	newSession := func(clients ...string) (*store.Session, string) {
		s := &store.Session{ID: store.NewID(), Subject: sub, AuthTime: e.clk.Now(), CreatedAt: e.clk.Now(), LastSeen: e.clk.Now(),
			ExpiresAt: e.clk.Now().Add(time.Hour), Clients: clients}
		if err := st.SaveSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		tok, err := st.CreateRefreshToken(ctx, &store.RefreshToken{ClientID: clients[0], Subject: sub, AuthTime: e.clk.Now(),
			SessionID: s.Ref, ExpiresAt: e.clk.Now().Add(24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return s, tok
	}
	one, oneTok := newSession("demarches", "lycees")
	two, twoTok := newSession("aides")
	e.clk.Advance(time.Millisecond)

	for _, account := range [][]string{{"--subject", sub}, {"--login", "JDupont"}} {
		code, out, errs := e.run(t, append([]string{"sessions", "list"}, account...)...)
		if code != 0 {
			t.Fatalf("list %v: exit %d %s", account, code, errs)
		}
		mustContain(t, "sessions list", out, "Sessions of sub-jdupont: 2", one.Ref, two.Ref, "clients=demarches,lycees", "refresh_tokens=1", "Refresh tokens of sub-jdupont: 2")
	}
	if code, _, errs := e.run(t, "sessions", "list"); code != 2 || !strings.Contains(errs, "exactly one of --subject") {
		t.Errorf("list without account: exit %d %s", code, errs)
	}
	if code, _, errs := e.run(t, "sessions", "list", "--login", "nobody"); code != 1 || !strings.Contains(errs, "no account") {
		t.Errorf("list of an unknown login: exit %d %s", code, errs)
	}

	code, out, errs := e.run(t, "sessions", "end", one.Ref, "--subject", sub)
	if code != 0 || !strings.Contains(out, "Ended session "+one.Ref+" of sub-jdupont and revoked 1 refresh token family") {
		t.Fatalf("end: exit %d\n%s%s", code, out, errs)
	}
	mustContain(t, "end audit", errs, `"audit":"admin.session.ended"`, `"operator":"alice"`, one.Ref)
	if _, err := st.SessionByRef(ctx, one.Ref); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ended session: %v", err)
	}
	if _, err := st.RefreshToken(ctx, oneTok); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refresh token of the ended session: %v", err)
	}
	if _, err := st.SessionByRef(ctx, two.Ref); err != nil {
		t.Errorf("the other session: %v", err)
	}
	if _, err := st.RefreshToken(ctx, twoTok); err != nil {
		t.Errorf("the other session's refresh token: %v", err)
	}
	if code, _, errs := e.run(t, "sessions", "end", one.Ref, "--subject", sub); code != 1 || !strings.Contains(errs, "no live session") {
		t.Errorf("ending it again: exit %d %s", code, errs)
	}
	if code, _, _ := e.run(t, "sessions", "end", two.Ref, "--subject", "someone-else"); code != 1 {
		t.Errorf("ending another person's session: exit %d", code)
	}

	code, out, errs = e.run(t, "sessions", "end-all", "--login", "jdupont")
	if code != 0 || !strings.Contains(out, "Ended 1 session(s) of sub-jdupont and revoked 1 refresh token family") {
		t.Fatalf("end-all: exit %d\n%s%s", code, out, errs)
	}
	mustContain(t, "end-all audit", errs, `"audit":"admin.sessions.ended"`, sub)
	if _, err := st.SessionByRef(ctx, two.Ref); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session after end-all: %v", err)
	}
	if _, err := st.RefreshToken(ctx, twoTok); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refresh token after end-all: %v", err)
	}
	if code, out, _ := e.run(t, "sessions", "list", "--subject", sub); code != 0 || !strings.Contains(out, "Sessions of sub-jdupont: 0") {
		t.Errorf("list after end-all: exit %d\n%s", code, out)
	}
}
