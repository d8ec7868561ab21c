package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/durable"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/store/storetest"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// backends are the servers the suite and the benchmarks run against. Each
// returns a fresh key space for one store.
var backends = []struct {
	name string
	new  func(tb testing.TB) func(tb testing.TB, now func() time.Time) *store.Store
}{
	{"miniredis", newMiniredis},
	{"redis", newRealRedis},
	{"cluster", newCluster},
	{"cluster-one-slot", newClusterOneSlot},
	{"sentinel", newSentinel},
}

// newMiniredis gives every store its own miniredis (cheap). Miniredis never
// expires keys by itself here: the suite must not rely on Redis TTLs.
func newMiniredis(testing.TB) func(testing.TB, func() time.Time) *store.Store {
	return func(tb testing.TB, now func() time.Time) *store.Store {
		m := miniredis.RunT(tb)
		return newStore(tb, m.Addr(), "idp:", now)
	}
}

// newRealRedis starts one redis-server (skipped without the binary outside CI)
// and gives every store its own Prefix on it.
func newRealRedis(tb testing.TB) func(testing.TB, func() time.Time) *store.Store {
	r := testenv.StartRedis(tb)
	return func(tb testing.TB, now func() time.Time) *store.Store {
		return newStore(tb, r.Addr, "t-"+store.NewID()+":", now)
	}
}

// newCluster starts one three-master Redis Cluster: each store's own
// Prefix spreads its keys over the masters, so any script or transaction
// whose keys do not share a slot fails with CROSSSLOT.
func newCluster(tb testing.TB) func(testing.TB, func() time.Time) *store.Store {
	rc := testenv.StartRedisCluster(tb)
	return func(tb testing.TB, now func() time.Time) *store.Store {
		c := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: rc.Addrs})
		tb.Cleanup(func() { _ = c.Close() })
		return store.New(store.Options{Client: c, Prefix: "t-" + store.NewID() + ":", Now: now})
	}
}

// newClusterOneSlot is newCluster with a Prefix that is a hash tag: every
// key of a store lands in one slot, and the steps of a sign-in that
// belong together run as one script there.
func newClusterOneSlot(tb testing.TB) func(testing.TB, func() time.Time) *store.Store {
	rc := testenv.StartRedisCluster(tb)
	return func(tb testing.TB, now func() time.Time) *store.Store {
		c := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: rc.Addrs})
		tb.Cleanup(func() { _ = c.Close() })
		return store.New(store.Options{Client: c, Prefix: "{t-" + store.NewID() + "}:", Now: now})
	}
}

// newSentinel starts a Sentinel-managed primary and replica; stores reach
// the primary through the Sentinels, as the configuration's master_name does.
func newSentinel(tb testing.TB) func(testing.TB, func() time.Time) *store.Store {
	rs := testenv.StartRedisSentinel(tb)
	return func(tb testing.TB, now func() time.Time) *store.Store {
		c := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: rs.Sentinels, MasterName: rs.MasterName})
		tb.Cleanup(func() { _ = c.Close() })
		return store.New(store.Options{Client: c, Prefix: "t-" + store.NewID() + ":", Now: now})
	}
}

func newStore(tb testing.TB, addr, prefix string, now func() time.Time) *store.Store {
	c := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{addr}})
	tb.Cleanup(func() { _ = c.Close() })
	return store.New(store.Options{Client: c, Prefix: prefix, Now: now})
}

func TestConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			newStore := b.new(t)
			storetest.Run(t, func(t *testing.T, now func() time.Time) *store.Store { return newStore(t, now) })
		})
	}
}

func TestDefaults(t *testing.T) {
	o := store.New(store.Options{}).Options()
	if o.Prefix != "idp:" || o.Slack != time.Minute || o.Now == nil {
		t.Fatalf("defaults = %+v", o)
	}
}

func benchmark(b *testing.B, fn func(b *testing.B, s *store.Store)) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			fn(b, be.new(b)(b, time.Now))
		})
	}
}

func BenchmarkSaveAuthRequest(b *testing.B) {
	benchmark(b, func(b *testing.B, s *store.Store) {
		now := time.Now()
		ar := &store.AuthRequest{ClientID: "rp-1", RedirectURI: "https://rp.example.org/cb", ResponseType: "code",
			Scopes: []string{"openid", "email"}, CodeChallenge: store.NewID(), CodeChallengeMethod: "S256",
			CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
		for b.Loop() {
			ar.ID = store.NewID()
			if err := s.SaveAuthRequest(b.Context(), ar); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkConsumeCode(b *testing.B) {
	benchmark(b, func(b *testing.B, s *store.Store) {
		exp := time.Now().Add(time.Hour)
		codes := make([]string, b.N)
		for i := range codes {
			codes[i] = "code-" + store.NewID()
			if err := s.SaveCode(b.Context(), codes[i], "ar-1", exp, exp); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		for _, code := range codes {
			if _, err := s.ConsumeCode(b.Context(), code); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkRotateRefreshToken(b *testing.B) {
	benchmark(b, func(b *testing.B, s *store.Store) {
		now := time.Now()
		token, err := s.CreateRefreshToken(b.Context(), &store.RefreshToken{ClientID: "rp-1", Subject: "sub-1",
			Scopes: []string{"openid", "offline_access"}, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)})
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if token, _, err = s.RotateRefreshToken(b.Context(), token); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestSigningKeyWaitsForTheReplica: a new signing key is used only once
// the Sentinel replica holds it, so that a failover cannot swap the key
// tokens were signed with; until then the caller gets an error, and the
// key kept on the primary is the one the next call returns.
func TestSigningKeyWaitsForTheReplica(t *testing.T) {
	t.Parallel()
	rs := testenv.StartRedisSentinel(t)
	c := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: rs.Sentinels, MasterName: rs.MasterName})
	t.Cleanup(func() { _ = c.Close() })
	s := store.New(store.Options{Client: c, ReplicaWait: 200 * time.Millisecond})
	ctx := t.Context()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	generate := func(v string) func() ([]byte, error) { return func() ([]byte, error) { return []byte(v), nil } }

	resume := rs.FreezeReplica(t)
	if _, err := s.SigningKey(ctx, "k", generate("first")); !errors.Is(err, durable.ErrNotReplicated) {
		t.Fatalf("SigningKey with the replica frozen: %v, want ErrNotReplicated", err)
	}
	resume()
	b, err := s.SigningKey(ctx, "k", generate("second"))
	if err != nil || string(b) != "first" {
		t.Fatalf("SigningKey after = %q, %v; want the stored one", b, err)
	}
	if b, err := s.SigningKey(ctx, "new", generate("third")); err != nil || string(b) != "third" {
		t.Fatalf("SigningKey with the replica back = %q, %v", b, err)
	}
}
