package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// replicas are provider instances sharing one redis-server, as the
// replicas of a deployment do.
type replicas struct {
	rdb   *redis.Client
	clock *clock
	fx    []*fixture
	jwks  *httptest.Server
	crypt [32]byte
}

const testPeriod = 2 * time.Hour

func newReplicas(t *testing.T, rdb *redis.Client, c *clock, alg string) *replicas {
	t.Helper()
	r := &replicas{rdb: rdb, clock: c, crypt: [32]byte{7}}
	for range 4 {
		st := store.New(store.Options{Client: rdb, Now: c.Now})
		p, err := New(Config{
			Issuer: testIssuer, LoginPath: "/login", SigningAlgorithm: alg, CryptoKey: r.crypt,
			Clients:           []Client{{ID: "conf", SecretSHA256: secretHash(confSecret), RedirectURIs: []string{confCB}}},
			Lifetimes:         testLife,
			Now:               c.Now,
			KeyRotationPeriod: testPeriod,
			// Every call reads Redis: what one replica wrote, the others see.
			KeyCacheTTL: time.Nanosecond,
		}, st)
		if err != nil {
			t.Fatal(err)
		}
		r.fx = append(r.fx, &fixture{p: p, st: st, clock: c})
	}
	// The JWKS as a relying party fetches it, from any replica (the
	// library's own /keys endpoint).
	var mu sync.Mutex
	n := 0
	r.jwks = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		f := r.fx[n%len(r.fx)]
		n++
		mu.Unlock()
		f.p.Handler().ServeHTTP(w, req)
	}))
	t.Cleanup(r.jwks.Close)
	return r
}

// signIn gets an ID token from replica i through the token endpoint.
func (r *replicas) signIn(t *testing.T, i int) string {
	t.Helper()
	f := r.fx[i]
	a := f.exchange(t, "conf", f.code(t, "conf", confCB, "v3rifier-v3rifier-v3rifier-v3rifier-v3rifier"))
	raw, _ := a.body["id_token"].(string)
	if a.status != http.StatusOK || raw == "" {
		t.Fatalf("token endpoint of replica %d: %d %v", i, a.status, a.body)
	}
	return raw
}

// verify checks raw as a relying party does (go-oidc, which fetches the
// JWKS again on an unknown kid), at the test clock's time.
func (r *replicas) verify(t *testing.T, raw string) error {
	t.Helper()
	ctx := context.Background()
	ks := gooidc.NewRemoteKeySet(ctx, r.jwks.URL+"/keys")
	v := gooidc.NewVerifier(testIssuer, ks, &gooidc.Config{
		ClientID: "conf", SupportedSigningAlgs: []string{gooidc.RS256, gooidc.ES256}, Now: r.clock.Now,
	})
	_, err := v.Verify(ctx, raw)
	return err
}

func header(t *testing.T, raw string) (kid, alg string) {
	t.Helper()
	sig, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	return sig.Signatures[0].Header.KeyID, sig.Signatures[0].Header.Algorithm
}

// published is the kids of the JWKS, sorted.
func (r *replicas) published(t *testing.T) []string {
	t.Helper()
	resp, err := http.Get(r.jwks.URL + "/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	sort.Strings(kids)
	return kids
}

func (r *replicas) states(t *testing.T) map[string]string {
	t.Helper()
	keys, err := r.fx[0].p.Keys().List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, k := range keys {
		m[k.ID] = k.State
	}
	return m
}

// checkAll runs every replica's periodic check at once.
func (r *replicas) checkAll(t *testing.T) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(r.fx))
	for _, f := range r.fx {
		wg.Go(func() { errs <- f.p.Keys().Check(context.Background()) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// signInAll signs in on every replica at once and returns the tokens.
func (r *replicas) signInAll(t *testing.T) []string {
	t.Helper()
	toks := make([]string, len(r.fx))
	var wg sync.WaitGroup
	for i := range r.fx {
		wg.Go(func() { toks[i] = r.signIn(t, i) })
	}
	wg.Wait()
	return toks
}

func kidsOf(t *testing.T, toks []string) []string {
	var kids []string
	for _, tok := range toks {
		k, _ := header(t, tok)
		if !slices.Contains(kids, k) {
			kids = append(kids, k)
		}
	}
	return kids
}

// TestKeyRotationAcrossReplicas: four replicas start together and agree
// on one key set; they sign in across an on-demand rotation, a rotation by
// period and an algorithm change RS256 → ES256, and every ID token
// verifies against the published JWKS until it expires; a retired key
// leaves the JWKS only once its last token has expired.
func TestKeyRotationAcrossReplicas(t *testing.T) {
	rdb := testenv.StartRedis(t).Client(t)
	c := &clock{now: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}
	r := newReplicas(t, rdb, c, "RS256")
	var live []string // tokens not expired yet
	verifyLive := func(when string) {
		t.Helper()
		for _, tok := range live {
			if err := r.verify(t, tok); err != nil {
				t.Fatalf("%s: a live token no longer verifies: %v", when, err)
			}
		}
	}

	// Starting together: one current key, one next key, the same for all.
	toks := r.signInAll(t)
	if k := kidsOf(t, toks); len(k) != 1 {
		t.Fatalf("replicas starting together sign with %d keys: %v", len(k), k)
	}
	first, _ := header(t, toks[0])
	if pub := r.published(t); len(pub) != 2 || !slices.Contains(pub, first) {
		t.Fatalf("JWKS at start = %v, want the current key %s and the next one", pub, first)
	}
	live = append(live, toks...)
	verifyLive("at start")
	next := ""
	for kid, st := range r.states(t) {
		if st == KeyNext {
			next = kid
		}
	}

	// Nothing is due: the periodic check changes nothing.
	r.checkAll(t)
	if k, _ := header(t, r.signIn(t, 1)); k != first {
		t.Fatalf("a check with nothing due rotated: %s", k)
	}

	// On demand, as `idp admin keys rotate` does, from another process.
	admin, err := NewKeyring(r.crypt, nil, store.New(store.Options{Client: rdb, Now: c.Now}), KeyPolicy{Algorithm: jose.RS256}, c.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	toks = r.signInAll(t)
	if k := kidsOf(t, toks); len(k) != 1 || k[0] != next {
		t.Fatalf("after keys rotate, replicas sign with %v, want the former next key %s", k, next)
	}
	if st := r.states(t); st[first] != KeyRetired || st[next] != KeyCurrent || len(st) != 3 {
		t.Fatalf("states after keys rotate = %v", st)
	}
	live = append(live, toks...)
	verifyLive("after keys rotate")

	// A retired key stays while its tokens live (ID tokens: 5m, plus the
	// margin) ...
	c.Advance(testLife.IDToken + KeyRetentionMargin - time.Minute)
	r.checkAll(t)
	if pub := r.published(t); !slices.Contains(pub, first) {
		t.Fatalf("the retired key left the JWKS before its tokens expired: %v", pub)
	}
	live = r.signInAll(t) // the earlier tokens have expired
	// ... then leaves.
	c.Advance(2 * time.Minute)
	r.checkAll(t)
	if pub := r.published(t); slices.Contains(pub, first) || len(pub) != 2 {
		t.Fatalf("the retired key is still published after its tokens expired: %v", pub)
	}
	verifyLive("after the retired key left")

	// By period: the four replicas check at once, one rotates.
	c.Advance(testPeriod)
	r.checkAll(t)
	st := r.states(t)
	if st[next] != KeyRetired || len(st) != 3 {
		t.Fatalf("states after the period = %v", st)
	}
	toks = r.signInAll(t)
	if k := kidsOf(t, toks); len(k) != 1 || k[0] == next {
		t.Fatalf("after the period, replicas sign with %v", k)
	}
	verifyLive("after the rotation by period")

	// The algorithm changes: replicas restart with ES256. They keep
	// signing RS256 until the next rotation; the next key is now ES256.
	r2 := newReplicas(t, rdb, c, "ES256")
	r2.checkAll(t)
	if _, alg := header(t, r2.signIn(t, 0)); alg != "RS256" {
		t.Fatalf("the algorithm changed before a rotation: %s", alg)
	}
	keys, err := r2.fx[0].p.Keys().List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.State == KeyNext && k.Algorithm != "ES256" {
			t.Fatalf("the next key is %s after the change to ES256", k.Algorithm)
		}
	}
	c.Advance(testPeriod)
	live = r2.signInAll(t) // RS256, the instant before the rotation
	r2.checkAll(t)
	toks = r2.signInAll(t)
	for _, tok := range toks {
		if _, alg := header(t, tok); alg != "ES256" {
			t.Fatalf("after the rotation, a token is %s", alg)
		}
		if err := r2.verify(t, tok); err != nil {
			t.Fatalf("ES256 token: %v", err)
		}
	}
	for _, tok := range live {
		if _, alg := header(t, tok); alg != "RS256" {
			t.Fatalf("before the rotation, a token is %s", alg)
		}
	}
	verifyLive("after the change to ES256")
	algs, err := r2.fx[0].p.storage.SignatureAlgorithms(context.Background())
	if err != nil || !slices.Equal(algs, []jose.SignatureAlgorithm{jose.ES256, jose.RS256}) {
		t.Fatalf("signature algorithms = %v, %v; want ES256 then RS256", algs, err)
	}
}

// TestKeyringMigratesTheSingleKey: the one key of earlier versions
// becomes the current key of the set, so that its tokens keep verifying.
func TestKeyringMigratesTheSingleKey(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s, err := newSealer([32]byte{})
	if err != nil {
		t.Fatal(err)
	}
	der, err := generateKey(jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	old, err := parseKey(jose.ES256, der)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.SigningKey(ctx, "signing:ES256", func() ([]byte, error) { return s.seal("signing:ES256", der), nil }); err != nil {
		t.Fatal(err)
	}
	k, err := f.p.storage.SigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if k.ID() != old.id {
		t.Fatalf("current key %s, want the migrated %s", k.ID(), old.id)
	}
	keys, err := f.p.Keys().List(ctx)
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys after migration: %v, %v", keys, err)
	}

	// Upgraded with the other algorithm configured: the old key still
	// signs until the next rotation, the next key has the new algorithm.
	g := newFixture(t)
	if _, err := g.st.SigningKey(ctx, "signing:ES256", func() ([]byte, error) { return s.seal("signing:ES256", der), nil }); err != nil {
		t.Fatal(err)
	}
	rs, err := NewKeyring([32]byte{}, nil, g.st, KeyPolicy{Algorithm: jose.RS256}, g.clock.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	keys, err = rs.List(ctx)
	if err != nil || len(keys) != 2 || keys[0].ID != old.id || keys[0].State != KeyCurrent || keys[1].Algorithm != "RS256" || keys[1].State != KeyNext {
		t.Fatalf("keys after migration to another algorithm: %+v, %v", keys, err)
	}
}

// TestKeyringWrongCryptoKey: a set sealed with another crypto key is
// refused, never replaced.
func TestKeyringWrongCryptoKey(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.p.storage.SigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	other, err := NewKeyring([32]byte{42}, nil, f.st, KeyPolicy{}, f.clock.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.List(ctx); err == nil || !strings.Contains(err.Error(), "crypto_key") {
		t.Fatalf("List with another crypto key = %v", err)
	}
	if err := other.Rotate(ctx); err == nil {
		t.Fatal("Rotate with another crypto key succeeded")
	}
}

// keyringOn is a key ring alone over st, with its own clock.
func keyringOn(t *testing.T, st *store.Store, c *clock) *Keyring {
	t.Helper()
	k, err := NewKeyring([32]byte{5}, nil, st, KeyPolicy{RotationPeriod: testPeriod, Retention: time.Hour, CacheTTL: time.Nanosecond}, c.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func statesOf(t *testing.T, k *Keyring) map[string]int {
	t.Helper()
	keys, err := k.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, e := range keys {
		m[e.State]++
	}
	return m
}

// TestKeyringClockAhead: a replica whose clock is a year ahead rotates at
// most once per PublishDelay of its own clock, and does not drop a
// retired key before it has seen it retired for the whole retention.
func TestKeyringClockAhead(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	right := &clock{now: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}
	ahead := &clock{now: right.now.AddDate(1, 0, 0)}
	a, b := keyringOn(t, f.st, right), keyringOn(t, f.st, ahead)
	if err := a.Check(ctx); err != nil {
		t.Fatal(err)
	}
	// By the record, a rotation is long due for b; b has only just seen
	// the current key.
	if err := b.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if s := statesOf(t, a); s[KeyRetired] != 0 {
		t.Fatalf("a replica ahead rotated a key it had just seen current: %v", s)
	}
	// Someone rotates on demand; b sees the key retired. Its clock says
	// the retention is long over, but it saw the key retired just now.
	if err := a.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := b.Check(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if s := statesOf(t, a); s[KeyRetired] != 1 || s[KeyCurrent] != 1 || s[KeyNext] != 1 {
		t.Fatalf("a replica ahead changed the keys at once: %v", s)
	}
	// Once it has seen the current key for PublishDelay (30m for a 2h
	// period), it may rotate: once.
	ahead.Advance(31 * time.Minute)
	for range 3 {
		if err := b.Check(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if s := statesOf(t, a); s[KeyRetired] != 2 {
		t.Fatalf("after PublishDelay, a replica ahead: %v, want exactly one more rotation", s)
	}
	// And after the retention on its own clock, the retired keys go.
	ahead.Advance(time.Hour)
	if err := b.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if s := statesOf(t, a); s[KeyRetired] > 1 {
		t.Fatalf("retired keys after the retention on b's clock: %v", s)
	}
}

// TestKeyringStartingTogether: many replicas create the set at once;
// all end up with the same current key and the same published keys.
func TestKeyringStartingTogether(t *testing.T) {
	rdb := testenv.StartRedis(t).Client(t)
	c := &clock{now: time.Now()}
	const n = 8
	cur := make([]string, n)
	pub := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		k := keyringOn(t, store.New(store.Options{Client: rdb, Now: c.Now}), c)
		wg.Go(func() {
			ks, err := k.current(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			cur[i] = ks.current.id
			for _, p := range ks.published {
				pub[i] += p.ID() + " "
			}
		})
	}
	wg.Wait()
	for i := range n {
		if cur[i] != cur[0] || pub[i] != pub[0] {
			t.Fatalf("replica %d: current %s, published %s; replica 0: %s, %s", i, cur[i], pub[i], cur[0], pub[0])
		}
	}
}

// TestKeyringCache: a replica signs from a cache of CacheTTL, then picks
// up a rotation made elsewhere without restart.
func TestKeyringCache(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ttl := 300 * time.Millisecond
	k, err := NewKeyring([32]byte{5}, nil, f.st, KeyPolicy{Algorithm: jose.ES256, CacheTTL: ttl}, f.clock.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewKeyring([32]byte{5}, nil, f.st, KeyPolicy{Algorithm: jose.ES256, CacheTTL: time.Nanosecond}, f.clock.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	before, err := k.current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if ks, _ := k.current(ctx); ks.current.id != before.current.id {
		t.Fatal("the cache was not used")
	}
	time.Sleep(ttl)
	if ks, _ := k.current(ctx); ks.current.id == before.current.id {
		t.Fatal("a rotation elsewhere was not picked up after the cache TTL")
	}
}

// TestKeyringRun: the background check rotates once the period is over.
func TestKeyringRun(t *testing.T) {
	f := newFixture(t)
	k, err := NewKeyring([32]byte{5}, nil, f.st, KeyPolicy{Algorithm: jose.ES256, RotationPeriod: testPeriod, CacheTTL: time.Nanosecond, CheckInterval: 5 * time.Millisecond}, f.clock.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- k.Run(ctx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	first, err := k.current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond) // checks with nothing due
	if s := statesOf(t, k); s[KeyRetired] != 0 {
		t.Fatalf("rotated before the period: %v", s)
	}
	f.clock.Advance(testPeriod)
	testenv.Eventually(t, 5*time.Second, func() (bool, string) {
		ks, err := k.current(ctx)
		if err != nil || ks.current.id == first.current.id {
			return false, fmt.Sprintf("still %s (%v)", first.current.id, err)
		}
		return true, ""
	})
}

// TestKeyringRotateTogether: operators (or replicas) rotating at once
// make one rotation, not one each. Each waits, before writing, until all
// have read the set: they all decided on the same record.
func TestKeyringRotateTogether(t *testing.T) {
	rdb := testenv.StartRedis(t).Client(t)
	c := &clock{now: time.Now()}
	first := keyringOn(t, store.New(store.Options{Client: rdb, Now: c.Now}), c)
	if _, err := first.current(context.Background()); err != nil {
		t.Fatal(err)
	}
	var read sync.WaitGroup
	var rings []*Keyring
	for range 4 {
		read.Add(1)
		bs := &barrierStore{Store: store.New(store.Options{Client: rdb, Now: c.Now}), read: &read}
		k, err := NewKeyring([32]byte{5}, nil, bs, KeyPolicy{RotationPeriod: testPeriod, CacheTTL: time.Nanosecond}, c.Now, nil)
		if err != nil {
			t.Fatal(err)
		}
		rings = append(rings, k)
	}
	var wg sync.WaitGroup
	for _, k := range rings {
		wg.Go(func() {
			if err := k.Rotate(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if s := statesOf(t, first); s[KeyRetired] != 1 || s[KeyCurrent] != 1 || s[KeyNext] != 1 {
		t.Fatalf("after four rotations at once: %v, want one rotation", s)
	}
}

// barrierStore holds its first write until every barrierStore sharing
// read has read the set once.
type barrierStore struct {
	*store.Store
	read       *sync.WaitGroup
	once, wait sync.Once
}

func (b *barrierStore) LoadSigningKeySet(ctx context.Context) (store.SigningKeySet, error) {
	defer b.once.Do(b.read.Done)
	return b.Store.LoadSigningKeySet(ctx)
}

func (b *barrierStore) SaveSigningKeySet(ctx context.Context, version int64, data []byte) error {
	b.wait.Do(b.read.Wait)
	return b.Store.SaveSigningKeySet(ctx, version, data)
}
