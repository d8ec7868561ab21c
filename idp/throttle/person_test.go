package throttle_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
	"github.com/region-nouvelle-aquitaine/idp/idp/throttle"
)

func TestFromConfig(t *testing.T) {
	on := config.DefaultThrottle()
	on.Account.LockAfter, on.IP.MaxFailures = 7, 42
	for _, c := range []struct {
		name string
		cfg  config.Throttle
		want *throttle.Policy
	}{
		{"switched off", config.Throttle{}, nil},
		{"the section's numbers", on, &throttle.Policy{
			DelayAfter: 5, Delay: time.Second, MaxDelay: time.Minute, LockAfter: 7, LockDuration: 15 * time.Minute,
			IPFailures: 42, IPWindow: 15 * time.Minute,
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := miniredis.RunT(t)
			client := redis.NewClient(&redis.Options{Addr: m.Addr()})
			t.Cleanup(func() { _ = client.Close() })
			l := throttle.FromConfig(c.cfg, client, "p:", time.Now, nil)
			if c.want == nil {
				if l != nil {
					t.Fatal("a limiter although the section switches it off")
				}
				return
			}
			if l == nil || l.Policy() != *c.want {
				t.Fatalf("policy %+v, want %+v", l.Policy(), *c.want)
			}
			if _, err := l.Attempt(context.Background(), throttle.Keys{Counter: throttle.IdentifierKey("h")}, netip.MustParseAddr("192.0.2.1")); err != nil {
				t.Fatal(err)
			}
			for _, k := range m.Keys() {
				if !strings.HasPrefix(k, "p:throttle:") {
					t.Errorf("key %q outside the configured prefix", k)
				}
			}
		})
	}
}

func TestForgetPerson(t *testing.T) {
	ctx := context.Background()
	hash := func(typed string) string { return "h(" + strings.ToLower(typed) + ")" }
	ip := netip.MustParseAddr("192.0.2.1")
	for _, c := range []struct {
		name      string
		user      ldapauth.User
		forgotten []string // typed identifiers unlocked afterwards
		kept      []string // still locked
	}{
		{"uid and mail", ldapauth.User{Subject: "s1", Username: "jdupont", Email: "j@example.org"}, []string{"jdupont", "j@example.org"}, []string{"someone-else"}},
		{"no mail on the account", ldapauth.User{Subject: "s1", Username: "jdupont"}, []string{"jdupont"}, []string{"j@example.org", "someone-else"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := miniredis.RunT(t)
			client := redis.NewClient(&redis.Options{Addr: m.Addr()})
			t.Cleanup(func() { _ = client.Close() })
			now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
			l := throttle.New(throttle.Options{Client: client, Now: func() time.Time { return now }, Policy: throttle.Policy{DelayAfter: 50, LockAfter: 2}})
			attempt := func(typed, account string) throttle.Decision {
				t.Helper()
				d, err := l.Attempt(ctx, throttle.Keys{Counter: throttle.IdentifierKey(hash(typed)), Account: account}, ip)
				if err != nil {
					t.Fatal(err)
				}
				return d
			}
			sub := throttle.AccountKey(c.user.Subject)
			for _, typed := range []string{"jdupont", "j@example.org", "someone-else", "JDupont "} {
				for range 3 {
					attempt(typed, sub)
				}
			}
			if d := attempt("new-spelling", sub); !d.Capped {
				t.Fatal("the person's ceiling is not reached before the change")
			}
			if err := throttle.NewPersonForgetter(l, hash).ForgetPerson(ctx, c.user); err != nil {
				t.Fatal(err)
			}
			for _, typed := range c.forgotten {
				if d := attempt(typed, ""); !d.Allowed || d.Block.Kind != throttle.None {
					t.Errorf("%s still held back after the change: %+v", typed, d.Block)
				}
			}
			for _, typed := range c.kept {
				if d := attempt(typed, ""); d.Block.Kind != throttle.Lock {
					t.Errorf("%s unlocked by someone else's change: %+v", typed, d.Block)
				}
			}
			if d := attempt("another-spelling", sub); d.Capped {
				t.Error("the person's ceiling is still reached after the change")
			}
		})
	}
}
