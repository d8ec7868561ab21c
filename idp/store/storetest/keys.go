package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/store"
)

func testIDs(t *testing.T, _ *env) {
	seen := make(map[string]bool)
	for range 10000 {
		id := store.NewID()
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
		raw, err := base64.RawURLEncoding.DecodeString(id)
		if err != nil || len(raw) < 16 || strings.ContainsAny(id, ":.{}") {
			t.Fatalf("NewID = %q: want ≥128 bits of base64url without ':', '.', braces", id)
		}
	}
}

func testSigningKey(t *testing.T, e *env) {
	var calls atomic.Int32
	gen := func(v string) func() ([]byte, error) {
		return func() ([]byte, error) { calls.Add(1); return []byte(v), nil }
	}
	k, err := e.s.SigningKey(e.ctx, "rs256-1", gen("first"))
	noErr(t, "SigningKey", err)
	k2, err := e.s.SigningKey(e.ctx, "rs256-1", gen("second"))
	noErr(t, "SigningKey again", err)
	if string(k) != "first" || string(k2) != "first" || calls.Load() != 1 {
		t.Fatalf("got %q then %q with %d generate calls; want first twice, 1 call", k, k2, calls.Load())
	}
	other, err := e.s.SigningKey(e.ctx, "rs256-2", gen("other"))
	noErr(t, "SigningKey other name", err)
	if string(other) != "other" {
		t.Fatalf("other name = %q", other)
	}

	boom := errors.New("no entropy")
	_, err = e.s.SigningKey(e.ctx, "failing", func() ([]byte, error) { return nil, boom })
	wantErr(t, "generate error", err, boom)
	if _, err := e.s.SigningKey(e.ctx, "empty", func() ([]byte, error) { return nil, nil }); err == nil {
		t.Fatal("SigningKey stored an empty key")
	}
	k, err = e.s.SigningKey(e.ctx, "failing", gen("recovered"))
	noErr(t, "SigningKey after a failed generate", err)
	if string(k) != "recovered" {
		t.Fatalf("after failure = %q", k)
	}

	// Keys outlive any clock: a year later they are the same.
	e.clock.Advance(365 * 24 * time.Hour)
	k, err = e.s.SigningKey(e.ctx, "rs256-1", gen("late"))
	noErr(t, "SigningKey a year later", err)
	if string(k) != "first" {
		t.Fatalf("a year later = %q", k)
	}
}

func testSigningKeyRace(t *testing.T, e *env) {
	const n = 20
	keys := make([][]byte, n)
	var generated atomic.Int32
	errs := parallel(n, func(i int) error {
		var err error
		keys[i], err = e.s.SigningKey(e.ctx, "race", func() ([]byte, error) {
			generated.Add(1)
			return []byte(rand.Text()), nil
		})
		return err
	})
	for i, err := range errs {
		noErr(t, "SigningKey", err)
		if !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("replica %d got %q, replica 0 got %q", i, keys[i], keys[0])
		}
	}
	if generated.Load() < 1 {
		t.Fatal("generate never called")
	}
}

// exercise calls every write method once, returning secrets that must never
// appear in Redis and the longest logical lifetime written.
func exercise(t *testing.T, e *env) (secrets []string, longest time.Duration) {
	t.Helper()
	now := e.clock.Now()
	ar := fullAuthRequest(now)
	noErr(t, "SaveAuthRequest", e.s.SaveAuthRequest(e.ctx, ar))
	noErr(t, "UpdateAuthRequest", e.s.UpdateAuthRequest(e.ctx, ar.ID, func(a *store.AuthRequest) error { a.Done = true; return nil }))
	old := fullAuthRequest(now.Add(-time.Hour)) // expired at write time: still gets a TTL
	noErr(t, "SaveAuthRequest expired", e.s.SaveAuthRequest(e.ctx, old))

	code := "code-" + store.NewID()
	noErr(t, "SaveCode", e.s.SaveCode(e.ctx, code, ar.ID, now.Add(time.Minute), now.Add(time.Hour)))
	consumed := "code-" + store.NewID()
	noErr(t, "SaveCode", e.s.SaveCode(e.ctx, consumed, ar.ID, now.Add(time.Minute), now.Add(time.Hour)))
	_, err := e.s.ConsumeCode(e.ctx, consumed)
	noErr(t, "ConsumeCode", err)

	rt, t1 := createFamily(t, e, "anne")
	t2, _, err := e.s.RotateRefreshToken(e.ctx, t1)
	noErr(t, "RotateRefreshToken", err)
	noErr(t, "SaveAccessToken bound", e.s.SaveAccessToken(e.ctx, newAccessToken(now, "anne", rt.FamilyID)))
	noErr(t, "SaveAccessToken free", e.s.SaveAccessToken(e.ctx, newAccessToken(now, "anne", "")))

	sess := saveSession(t, e, "anne", 8*time.Hour)
	noErr(t, "UpdateSession", e.s.UpdateSession(e.ctx, sess.ID, func(s *store.Session) error { s.LastSeen = now; return nil }))
	noErr(t, "KeepSessionFor", e.s.KeepSessionFor(e.ctx, "job-x", sess.Ref, now.Add(time.Hour)))
	noErr(t, "UpdateAuthRequest session", e.s.UpdateAuthRequest(e.ctx, ar.ID, func(a *store.AuthRequest) error { a.SessionID = sess.Ref; return nil }))

	retired := saveSession(t, e, "anne", 8*time.Hour)
	retired.Earlier = []string{sess.Ref}
	noErr(t, "KeepRetired", e.s.KeepRetired(e.ctx, retired, now.Add(time.Minute)))

	flow := &store.ResetFlow{ID: store.NewID(), AuthRequestID: ar.ID, KeepSession: sess.Ref, CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute)}
	noErr(t, "SaveResetFlow", e.s.SaveResetFlow(e.ctx, flow))
	noErr(t, "UpdateResetFlow", e.s.UpdateResetFlow(e.ctx, flow.ID, func(f *store.ResetFlow) error { f.CodeTries++; return nil }))
	noErr(t, "SaveResetLink", e.s.SaveResetLink(e.ctx, "link-hash", flow.ID, now.Add(10*time.Minute)))

	_, err = e.s.SigningKey(e.ctx, "rs256", func() ([]byte, error) { return []byte("key"), nil })
	noErr(t, "SigningKey", err)

	_, _, _, err = e.s.Allow(e.ctx, "exercise", time.Hour, 3)
	noErr(t, "Allow", err)

	secret := func(tok string) string { fam, _ := e.s.RefreshFamilyOf(tok); return strings.TrimPrefix(tok, fam+".") }
	// What browsers present (cookies, URLs) is a secret too.
	return []string{code, consumed, secret(t1), secret(t2), sess.ID, retired.ID, ar.ID, old.ID, flow.ID}, 8 * time.Hour
}

func testKeysHaveTTL(t *testing.T, e *env) {
	_, longest := exercise(t, e)
	o := e.s.Options()
	keys, err := scanKeys(e, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 8 {
		t.Fatalf("found only %d keys under %q: %v", len(keys), o.Prefix, keys)
	}
	for _, k := range keys {
		ttl, err := o.Client.PTTL(e.ctx, k).Result()
		noErr(t, "PTTL", err)
		isSigningKey := strings.HasPrefix(k, o.Prefix+"sigkey:")
		switch {
		case isSigningKey && ttl != -1*time.Nanosecond && ttl != -1*time.Millisecond:
			t.Errorf("signing key %s has TTL %v, want none", k, ttl)
		case !isSigningKey && (ttl <= 0 || ttl > longest+o.Slack+time.Second):
			t.Errorf("key %s has TTL %v, want within (0, %v]", k, ttl, longest+o.Slack)
		}
		if strings.HasPrefix(k, o.Prefix+"rt:") && !strings.HasPrefix(k, o.Prefix+"rt:{") {
			t.Errorf("refresh family key %s lacks its {hash tag}", k)
		}
	}
}

func testNoSecretsInRedis(t *testing.T, e *env) {
	secrets, _ := exercise(t, e)
	o := e.s.Options()
	keys, err := scanKeys(e, o)
	if err != nil {
		t.Fatal(err)
	}
	var dump strings.Builder
	for _, k := range keys {
		dump.WriteString(k + "\n")
		switch typ := o.Client.Type(e.ctx, k).Val(); typ {
		case "string":
			dump.WriteString(o.Client.Get(e.ctx, k).Val())
		case "hash":
			for f, v := range o.Client.HGetAll(e.ctx, k).Val() {
				dump.WriteString(f + "=" + v + "\n")
			}
		case "zset":
			dump.WriteString(strings.Join(o.Client.ZRange(e.ctx, k, 0, -1).Val(), "\n"))
		default:
			t.Errorf("unexpected %s key %s", typ, k)
		}
	}
	for _, s := range secrets {
		if strings.Contains(dump.String(), s) {
			t.Errorf("secret %.8s… stored in clear", s)
		}
	}
}

// scanKeys lists the store's keys; on a Cluster, those of every master.
func scanKeys(e *env, o store.Options) ([]string, error) {
	var (
		mu   sync.Mutex
		keys []string
	)
	scan := func(ctx context.Context, c redis.Cmdable) error {
		iter := c.Scan(ctx, 0, o.Prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			keys = append(keys, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	}
	if cc, ok := o.Client.(*redis.ClusterClient); ok {
		err := cc.ForEachMaster(e.ctx, func(ctx context.Context, c *redis.Client) error { return scan(ctx, c) })
		return keys, err
	}
	return keys, scan(e.ctx, o.Client)
}
