package provider

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/region-nouvelle-aquitaine/idp/idp/store"
)

// States of a key in the ring. A next key is published (JWKS) but does
// not sign yet; the current key signs; a retired key no longer signs but
// stays published while tokens it signed may still be presented.
const (
	KeyNext    = "next"
	KeyCurrent = "current"
	KeyRetired = "retired"
)

// Defaults of the key ring.
const (
	DefaultKeyRotationPeriod = 30 * 24 * time.Hour
	// DefaultKeyCacheTTL bounds how long a replica keeps signing with a
	// key another replica rotated away (the retired key stays published).
	DefaultKeyCacheTTL = 5 * time.Second
	// DefaultKeyCheckInterval is how often each replica checks (from its
	// cache, without a Redis write) whether a rotation is due.
	DefaultKeyCheckInterval = time.Minute
	// KeyRetentionMargin is added to the longest token lifetime before a
	// retired key leaves the JWKS; it also absorbs clock differences
	// between replicas.
	KeyRetentionMargin = 10 * time.Minute
	keyLeaseTTL        = 30 * time.Second
	keySetName         = "signing:keyset"
)

// keyStore is what the key ring needs from the store.
type keyStore interface {
	LoadSigningKeySet(ctx context.Context) (store.SigningKeySet, error)
	SaveSigningKeySet(ctx context.Context, version int64, data []byte) error
	KeyRotationLease(ctx context.Context, holder string, ttl time.Duration) (bool, error)
	ReleaseKeyRotationLease(ctx context.Context, holder string) error
	LegacySigningKey(ctx context.Context, name string) ([]byte, error)
}

// KeyPolicy is how the key ring rotates.
type KeyPolicy struct {
	// Algorithm of new keys; a change takes effect at the next rotation.
	Algorithm jose.SignatureAlgorithm
	// RotationPeriod: how long a key is current, and how long the next
	// key is published before it signs. Default DefaultKeyRotationPeriod.
	RotationPeriod time.Duration
	// Retention: how long a retired key stays published; at least the
	// longest lifetime of a signed token plus KeyRetentionMargin.
	Retention time.Duration
	// PublishDelay: a replica rotates by period only if it has itself seen
	// the current key current, and the next key published, for this long,
	// so that a replica whose clock runs ahead cannot rotate twice in a
	// row. Default min(RotationPeriod/4, 1h).
	PublishDelay time.Duration
	// CacheTTL, CheckInterval: see DefaultKeyCacheTTL, DefaultKeyCheckInterval.
	CacheTTL      time.Duration
	CheckInterval time.Duration
}

func (p *KeyPolicy) defaults() {
	if p.Algorithm == "" {
		p.Algorithm = jose.RS256
	}
	if p.RotationPeriod <= 0 {
		p.RotationPeriod = DefaultKeyRotationPeriod
	}
	if p.PublishDelay <= 0 {
		p.PublishDelay = min(p.RotationPeriod/4, time.Hour)
	}
	if p.CacheTTL <= 0 {
		p.CacheTTL = DefaultKeyCacheTTL
	}
	if p.CheckInterval <= 0 {
		p.CheckInterval = DefaultKeyCheckInterval
	}
	p.Retention = max(p.Retention, KeyRetentionMargin)
}

// keyEntry is one key of the stored record.
type keyEntry struct {
	ID        string                  `json:"kid"`
	Alg       jose.SignatureAlgorithm `json:"alg"`
	State     string                  `json:"state"`
	DER       []byte                  `json:"der"`
	CreatedAt time.Time               `json:"created_at"`
	CurrentAt time.Time               `json:"current_at,omitzero"`
	RetiredAt time.Time               `json:"retired_at,omitzero"`
}

// keyRecord is what is sealed into Redis: every key, private parts
// included, so that any replica can sign with the current one.
type keyRecord struct {
	Keys []keyEntry `json:"keys"`
}

// KeyInfo describes one key, without its private part.
type KeyInfo struct {
	ID        string
	Algorithm string
	State     string
	CreatedAt time.Time
	CurrentAt time.Time
	RetiredAt time.Time
}

// keySet is a loaded record, parsed.
type keySet struct {
	version   int64
	record    keyRecord
	current   *signingKey
	published []op.Key
	algs      []jose.SignatureAlgorithm
	loaded    time.Time // wall clock, for the cache only
}

// Keyring holds the provider's signing keys, shared by every replica
// through one sealed record in Redis, and rotates them.
type Keyring struct {
	store  keyStore
	seal   *sealer
	policy KeyPolicy
	now    func() time.Time
	log    *slog.Logger
	holder string

	mu  sync.Mutex
	set *keySet
	// seen is when this replica first saw each key current, or retired
	// (seenKey), on its own clock: immune to other replicas' clocks.
	seen map[string]time.Time
}

func newKeyring(st keyStore, s *sealer, p KeyPolicy, now func() time.Time, log *slog.Logger) *Keyring {
	p.defaults()
	var id [8]byte
	_, _ = rand.Read(id[:])
	return &Keyring{store: st, seal: s, policy: p, now: now, log: log, holder: hex.EncodeToString(id[:]), seen: map[string]time.Time{}}
}

// current returns the cached set, reloading it when older than CacheTTL;
// on first use it creates the set (or migrates the single key of earlier
// versions into it).
func (r *Keyring) current(ctx context.Context) (*keySet, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.set != nil && time.Since(r.set.loaded) < r.policy.CacheTTL {
		return r.set, nil
	}
	ks, err := r.load(ctx)
	if err != nil && r.set != nil && !errors.Is(err, ErrSealedKey) {
		// Redis unreachable for a moment (a failover): keep signing with
		// the keys known a few seconds ago rather than refuse every token.
		r.log.WarnContext(ctx, "signing keys not reloaded, using the cached ones", "err", err)
		return r.set, nil
	}
	if err != nil {
		return nil, err
	}
	if ks == nil {
		if ks, err = r.update(ctx, false); err != nil {
			return nil, err
		}
	}
	return ks, nil
}

// load reads and opens the stored set; nil when none is stored. Callers
// hold mu.
func (r *Keyring) load(ctx context.Context) (*keySet, error) {
	version, rec, err := r.read(ctx, r.set)
	if err != nil || version == 0 {
		return nil, err
	}
	if r.set != nil && version == r.set.version {
		// Unchanged: no need to open and parse it again.
		r.set.loaded = time.Now()
		r.observe(r.set)
		return r.set, nil
	}
	ks, err := parseRecord(version, rec)
	if err != nil {
		return nil, err
	}
	r.observe(ks)
	return ks, nil
}

// read returns the stored record, opened, and its version (0: none);
// only the version when it is that of known (nothing to open again).
func (r *Keyring) read(ctx context.Context, known *keySet) (int64, keyRecord, error) {
	var rec keyRecord
	raw, err := r.store.LoadSigningKeySet(ctx)
	if err != nil {
		return 0, rec, fmt.Errorf("load signing keys: %w", err)
	}
	if raw.Version == 0 || (known != nil && raw.Version == known.version) {
		return raw.Version, rec, nil
	}
	plain, err := r.open(raw.Data)
	if err != nil {
		return 0, rec, err
	}
	if err := json.Unmarshal(plain, &rec); err != nil {
		return 0, rec, fmt.Errorf("decode signing keys: %w", err)
	}
	return raw.Version, rec, nil
}

func seenKey(state, kid string) string { return state + " " + kid }

func (r *Keyring) observe(ks *keySet) {
	r.set = ks
	now := r.now()
	live := map[string]bool{}
	for _, e := range ks.record.Keys {
		if e.State == KeyNext {
			continue
		}
		k := seenKey(e.State, e.ID)
		live[k] = true
		if _, ok := r.seen[k]; !ok {
			r.seen[k] = now
		}
	}
	for k := range r.seen {
		if !live[k] {
			delete(r.seen, k)
		}
	}
}

// Sealing goes through these two only, so that a change of the sealing
// key touches one place.
func (r *Keyring) sealRecord(plain []byte) []byte { return r.seal.seal(keySetName, plain) }
func (r *Keyring) open(sealed []byte) ([]byte, error) {
	return r.seal.open(keySetName, sealed)
}

func parseRecord(version int64, rec keyRecord) (*keySet, error) {
	ks := &keySet{version: version, record: rec, loaded: time.Now()}
	for _, e := range rec.Keys {
		k, err := parseKey(e.Alg, e.DER)
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", e.ID, err)
		}
		if k.id != e.ID {
			return nil, fmt.Errorf("signing key %s: kid does not match its key", e.ID)
		}
		if e.State == KeyCurrent {
			ks.current = k
		}
		ks.published = append(ks.published, publicKey{k})
		if !slices.Contains(ks.algs, e.Alg) {
			ks.algs = append(ks.algs, e.Alg)
		}
	}
	if ks.current == nil {
		return nil, errors.New("signing keys: no current key")
	}
	// The current key's algorithm first: discovery lists it first.
	slices.SortStableFunc(ks.algs, func(a, b jose.SignatureAlgorithm) int {
		switch {
		case a == ks.current.alg && b != a:
			return -1
		case b == ks.current.alg && b != a:
			return 1
		}
		return 0
	})
	return ks, nil
}

// update applies the rotation plan to the stored set with a
// compare-and-set on its version, reading again after a conflict: the
// replicas writing at once converge on one set. force rotates now.
// Callers hold mu.
func (r *Keyring) update(ctx context.Context, force bool) (*keySet, error) {
	rotateAway := "" // with force: the current key when first read
	for range 8 {
		version, rec, err := r.read(ctx, nil)
		if err != nil {
			return nil, err
		}
		var stored *keySet
		var parseErr error
		if version != 0 {
			if stored, parseErr = parseRecord(version, rec); parseErr == nil {
				r.observe(stored)
			}
		} else if rec, err = r.migrate(ctx); err != nil {
			return nil, err
		}
		if force {
			cur := ""
			if i := slices.IndexFunc(rec.Keys, func(e keyEntry) bool { return e.State == KeyCurrent }); i >= 0 {
				cur = rec.Keys[i].ID
			}
			if rotateAway == "" {
				rotateAway = cur
			} else if cur != rotateAway {
				force = false // another replica rotated meanwhile: done
			}
		}
		next, changed, err := r.plan(rec, force)
		if err != nil {
			return nil, err
		}
		if !changed && version != 0 {
			if parseErr != nil {
				return nil, parseErr
			}
			return stored, nil
		}
		plain, err := json.Marshal(next)
		if err != nil {
			return nil, fmt.Errorf("encode signing keys: %w", err)
		}
		err = r.store.SaveSigningKeySet(ctx, version, r.sealRecord(plain))
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, err
		}
		ks, err := parseRecord(version+1, next)
		if err != nil {
			return nil, err
		}
		r.observe(ks)
		r.log.InfoContext(ctx, "signing keys updated", "current", ks.current.id, "alg", string(ks.current.alg), "keys", len(next.Keys))
		return ks, nil
	}
	return nil, fmt.Errorf("update signing keys: %w", store.ErrConflict)
}

// migrate builds the first record: the single key of earlier versions
// (same sealing, named after its algorithm; that of the configured
// algorithm first) becomes current, so tokens it signed keep verifying.
// If its algorithm is not the configured one, plan gives the set a next
// key of the configured algorithm, current at the next rotation.
func (r *Keyring) migrate(ctx context.Context) (keyRecord, error) {
	var rec keyRecord
	for _, alg := range []jose.SignatureAlgorithm{r.policy.Algorithm, jose.RS256, jose.ES256} {
		name := "signing:" + string(alg)
		sealed, err := r.store.LegacySigningKey(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return rec, err
		}
		der, err := r.seal.open(name, sealed)
		if err != nil {
			return rec, err
		}
		k, err := parseKey(alg, der)
		if err != nil {
			return rec, err
		}
		now := r.now()
		rec.Keys = append(rec.Keys, keyEntry{ID: k.id, Alg: alg, State: KeyCurrent, DER: der, CreatedAt: now, CurrentAt: now})
		return rec, nil
	}
	return rec, nil
}

// plan returns rec after what is due: a current key if there is none, a
// next key of the configured algorithm, a rotation, the departure of
// retired keys whose tokens have all expired.
//
// Decisions compare the record's own timestamps with this replica's
// clock. A clock that lags only delays a rotation; timestamps written are
// never before the record's latest, so the record stays ordered. A clock
// that runs ahead is held back by what it saw itself, on its own clock:
// it rotates only a key it saw current for PublishDelay, and drops only a
// key it saw retired for the retention.
func (r *Keyring) plan(rec keyRecord, force bool) (keyRecord, bool, error) {
	now := r.now()
	for _, e := range rec.Keys {
		now = latest(now, e.CreatedAt, e.CurrentAt, e.RetiredAt)
	}
	out := keyRecord{Keys: slices.Clone(rec.Keys)}
	changed := false
	find := func(state string) int {
		return slices.IndexFunc(out.Keys, func(e keyEntry) bool { return e.State == state })
	}
	cur := find(KeyCurrent)
	if cur < 0 {
		e, err := r.newKey(now, KeyCurrent)
		if err != nil {
			return rec, false, err
		}
		out.Keys = append(out.Keys, e)
		cur, changed = len(out.Keys)-1, true
	}
	nxt := find(KeyNext)
	if nxt >= 0 && out.Keys[nxt].Alg != r.policy.Algorithm {
		// It never signed: it can go at once.
		out.Keys = slices.Delete(out.Keys, nxt, nxt+1)
		nxt, cur, changed = -1, find(KeyCurrent), true
	}
	if nxt < 0 {
		e, err := r.newKey(now, KeyNext)
		if err != nil {
			return rec, false, err
		}
		out.Keys = append(out.Keys, e)
		nxt, changed = len(out.Keys)-1, true
	}
	if force || r.due(out.Keys[cur], out.Keys[nxt]) {
		out.Keys[cur].State, out.Keys[cur].RetiredAt = KeyRetired, now
		out.Keys[nxt].State, out.Keys[nxt].CurrentAt = KeyCurrent, now
		e, err := r.newKey(now, KeyNext)
		if err != nil {
			return rec, false, err
		}
		out.Keys = append(out.Keys, e)
		changed = true
	}
	wall := r.now()
	out.Keys = slices.DeleteFunc(out.Keys, func(e keyEntry) bool {
		// Both by the record and by this replica's own sight of it
		// retired: a clock far ahead cannot drop a key whose tokens live.
		seen, ok := r.seen[seenKey(KeyRetired, e.ID)]
		gone := e.State == KeyRetired && ok && wall.After(e.RetiredAt.Add(r.policy.Retention)) &&
			wall.Sub(seen) > r.policy.Retention
		changed = changed || gone
		return gone
	})
	return out, changed, nil
}

// due: the current key has been current for a period by the record's
// timestamps, this replica has seen it current for PublishDelay, and the
// next key has been published for PublishDelay.
func (r *Keyring) due(cur, next keyEntry) bool {
	now := r.now()
	seen, ok := r.seen[seenKey(KeyCurrent, cur.ID)]
	return ok && !now.Before(cur.CurrentAt.Add(r.policy.RotationPeriod)) &&
		now.Sub(seen) >= r.policy.PublishDelay &&
		now.Sub(next.CreatedAt) >= r.policy.PublishDelay
}

func (r *Keyring) newKey(now time.Time, state string) (keyEntry, error) {
	der, err := generateKey(r.policy.Algorithm)
	if err != nil {
		return keyEntry{}, err
	}
	k, err := parseKey(r.policy.Algorithm, der)
	if err != nil {
		return keyEntry{}, err
	}
	e := keyEntry{ID: k.id, Alg: k.alg, State: state, DER: der, CreatedAt: now}
	if state == KeyCurrent {
		e.CurrentAt = now
	}
	return e, nil
}

func latest(t time.Time, ts ...time.Time) time.Time {
	for _, u := range ts {
		if u.After(t) {
			t = u
		}
	}
	return t
}

// Rotate makes the next key current now (creating a next key of the
// configured algorithm first if needed), whatever the period: the
// operator's `idp admin keys rotate`.
func (r *Keyring) Rotate(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, err := r.update(ctx, true)
	return err
}

// Check does what is due (rotation by period, a next key of a new
// algorithm, retired keys leaving) if this replica gets the rotation
// lease. It writes to Redis only when something is due by the cached set.
func (r *Keyring) Check(ctx context.Context) error {
	ks, err := r.current(ctx)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, changed, err := r.plan(ks.record, false); err != nil || !changed {
		return err
	}
	ok, err := r.store.KeyRotationLease(ctx, r.holder, keyLeaseTTL)
	if err != nil || !ok {
		return err
	}
	_, err = r.update(ctx, false)
	// Held only for the update: its TTL covers a replica that dies in it.
	return errors.Join(err, r.store.ReleaseKeyRotationLease(ctx, r.holder))
}

// Run checks every CheckInterval until ctx ends.
func (r *Keyring) Run(ctx context.Context) error {
	t := time.NewTicker(r.policy.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := r.Check(ctx); err != nil && ctx.Err() == nil {
				r.log.WarnContext(ctx, "signing key check failed", "err", err)
			}
		}
	}
}

// List describes the stored keys, creating the set if none is stored.
func (r *Keyring) List(ctx context.Context) ([]KeyInfo, error) {
	r.mu.Lock()
	r.set = nil // the operator wants what Redis holds now
	r.mu.Unlock()
	ks, err := r.current(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]KeyInfo, 0, len(ks.record.Keys))
	for _, e := range ks.record.Keys {
		out = append(out, KeyInfo{ID: e.ID, Algorithm: string(e.Alg), State: e.State, CreatedAt: e.CreatedAt, CurrentAt: e.CurrentAt, RetiredAt: e.RetiredAt})
	}
	return out, nil
}

// NewKeyring opens the key ring alone, for the admin commands; previous
// are the crypto keys cryptoKey replaced, accepted to open the record.
func NewKeyring(cryptoKey [32]byte, previous [][32]byte, st keyStore, p KeyPolicy, now func() time.Time, log *slog.Logger) (*Keyring, error) {
	s, err := newRotatingSealer(cryptoKey, previous)
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return newKeyring(st, s, p, now, log), nil
}
