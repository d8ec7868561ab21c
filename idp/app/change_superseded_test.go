package app_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestChangeFlowAfterTheOwnersReset: someone who had the old password
// signed in and went past the current password of « Changer mon mot de
// passe ». The owner then resets the password by mail, and it is written.
// Before the sessions are ended (the consumer of written changes is held
// back here, as when it is slow or down), the other browser posts a
// password of its own: it must be refused, and the owner's stay.
func TestChangeFlowAfterTheOwnersReset(t *testing.T) {
	gate := &streamGate{open: make(chan struct{})}
	s := startStackWith(t, stackOptions{RedisHook: gate})
	t.Cleanup(gate.release) // before the stack stops (cleanups run last first)
	u := testenv.Users()[0]

	other, _ := signedInAs(t, s, s.Sites[0], u)
	if status, loc, _ := changeFrom(t, other, u.Password); status != http.StatusSeeOther || loc != "/mot-de-passe-perdu/nouveau" {
		t.Fatalf("the current password: %d to %q", status, loc)
	}
	const owners = "La phrase que la titulaire vient de choisir"
	if path, _ := verifiedReset(t, s, u.Mail).setPassword(owners, owners); path != "/mot-de-passe-perdu/termine" {
		t.Fatalf("the owner's reset: at %s", path)
	}
	if other.silent(s.Sites[0], nil) != "" {
		t.Fatal("the other browser's session already ended: the consumer was not held back")
	}

	const theirs = "Une phrase de celui qui avait l'ancien mot de passe"
	if path, _ := (resetClient{other}).setPassword(theirs, theirs); path == "/mot-de-passe-perdu/termine" || path == "/mot-de-passe-perdu/attente" {
		t.Errorf("a change opened before the owner's reset was taken after it: at %s", path)
	}
	gate.release()
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		return other.silent(s.Sites[0], nil) == "login_required", "the other browser's session has not ended"
	})
	if binds(t, s, u.UID, theirs) {
		t.Error("the other browser's password works")
	}
	if !binds(t, s, u.UID, owners) {
		t.Error("the owner's password does not work")
	}
}

// streamGate holds back every read of the stream of settled changes
// (XREADGROUP, XAUTOCLAIM) until released: their consumer waits.
type streamGate struct {
	open chan struct{}
	once sync.Once
}

func (g *streamGate) release() { g.once.Do(func() { close(g.open) }) }

func (g *streamGate) DialHook(next redis.DialHook) redis.DialHook { return next }

func (g *streamGate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if err := g.wait(ctx, cmd); err != nil {
			return err
		}
		return next(ctx, cmd)
	}
}

func (g *streamGate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			if err := g.wait(ctx, cmd); err != nil {
				return err
			}
		}
		return next(ctx, cmds)
	}
}

func (g *streamGate) wait(ctx context.Context, cmd redis.Cmder) error {
	if n := cmd.Name(); n != "xreadgroup" && n != "xautoclaim" {
		return nil
	}
	if !slices.ContainsFunc(cmd.Args(), func(a any) bool { s, _ := a.(string); return strings.HasSuffix(s, ":events") }) {
		return nil // another stream (the mail queue)
	}
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
