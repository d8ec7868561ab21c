package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sentinel errors callers branch on. Every other error is wrapped with %w.
var (
	// ErrNotFound: the record does not exist, was consumed or revoked, or is logically expired.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: an optimistic update kept losing races, or a create hit an existing id.
	ErrConflict = errors.New("store: conflict")
	// ErrRefreshReused: a rotated-away refresh token was presented; its whole family has been revoked.
	ErrRefreshReused = errors.New("store: refresh token reused, family revoked")
	// ErrCodeReplayed: an authorization code was presented a second time.
	ErrCodeReplayed = errors.New("store: authorization code replayed")
	// ErrSessionEnded: the session a code's sign-in went through is gone
	// (ConsumeCodeFor); the code was spent all the same.
	ErrSessionEnded = errors.New("store: the sign-in's session has ended")
)

// Options configures a Store. Zero values get the documented defaults.
type Options struct {
	// Client is required: a single node, Sentinel or Cluster client.
	Client redis.UniversalClient
	// Prefix starts every key; default "idp:". It may itself be a hash tag
	// (e.g. "{idp}:") to pin every key to one Cluster slot.
	Prefix string
	// Now is the logical clock used for every expiry decision; default time.Now.
	Now func() time.Time
	// Slack is added to the Redis TTL beyond a record's logical expiry (Redis TTL
	// only cleans up; reads decide expiry with Now); default 1m.
	Slack time.Duration
	// RevocationTTL is how long RevokeSubject's revocation time is kept: at
	// least the longest session or refresh-token lifetime; default 30 days.
	RevocationTTL time.Duration
	// ReplicaWait bounds how long SigningKey waits for a replica to hold a
	// new key (WAIT), when the primary has replicas; default 1s.
	ReplicaWait time.Duration
}

// Store owns every Redis key of the web tier. It is safe for concurrent use.
type Store struct {
	c      redis.UniversalClient
	prefix string
	now    func() time.Time
	slack  time.Duration
	// revocationTTL: see Options.RevocationTTL.
	revocationTTL time.Duration
	replicaWait   time.Duration
	// oneSlot: scripts may name several keys (see oneSlot).
	oneSlot bool
}

// New applies defaults to opts and returns a Store. It does not contact Redis (see Ping).
func New(opts Options) *Store {
	if opts.Prefix == "" {
		opts.Prefix = "idp:"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Slack <= 0 {
		opts.Slack = time.Minute
	}
	if opts.RevocationTTL <= 0 {
		opts.RevocationTTL = 30 * 24 * time.Hour
	}
	if opts.ReplicaWait <= 0 {
		opts.ReplicaWait = time.Second
	}
	return &Store{c: opts.Client, prefix: opts.Prefix, now: opts.Now, slack: opts.Slack, revocationTTL: opts.RevocationTTL, replicaWait: opts.ReplicaWait,
		oneSlot: oneSlot(opts.Client, opts.Prefix)}
}

// Options returns the effective options (defaults applied); the conformance
// suite uses it to audit keys and TTLs. Other packages must not write Redis keys.
func (s *Store) Options() Options {
	return Options{Client: s.c, Prefix: s.prefix, Now: s.now, Slack: s.slack, RevocationTTL: s.revocationTTL, ReplicaWait: s.replicaWait}
}

// Ping checks that Redis answers (readiness probe).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// NewID returns a 128-bit crypto/rand identifier, base64url without padding
// (22 characters of [A-Za-z0-9_-]: never ':', '.', '{' or '}').
func NewID() string {
	return randomString(16)
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it crashes the program instead).
	return base64.RawURLEncoding.EncodeToString(b)
}

// isB64URL reports whether v is a non-empty string of base64url characters, so
// it can sit inside a hash tag and next to '.' separators without ambiguity.
func isB64URL(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Ref is the reference under which the store keeps a record named by a
// value a browser presents (session cookie, reset flow cookie, sign-in
// request id in a URL): its SHA-256, hex. Keys and records hold only
// this reference, so a copy of Redis cannot be turned back into the value
// and used. Other records point to a session or sign-in request by it.
func Ref(v string) string { return sha256Hex(v) }

// isRef reports whether v has the form of a Ref (64 lowercase hex digits).
func isRef(v string) bool {
	if len(v) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func sha256Hex(v string) string {
	h := sha256.Sum256([]byte(v))
	return hex.EncodeToString(h[:])
}

// Key builders: the single place that spells key names (see doc.go).
// Records named by a browser's value take its Ref: callers pass the value.
func (s *Store) authRequestKey(ref string) string { return s.prefix + "ar:" + ref }
func (s *Store) codeKey(code string) string       { return s.prefix + "code:" + sha256Hex(code) }
func (s *Store) grantKey(arRef string) string     { return s.prefix + "grant:" + arRef }
func (s *Store) accessTokenKey(id string) string  { return s.prefix + "at:" + id }
func (s *Store) familyKey(fam string) string      { return s.prefix + "rt:{" + fam + "}" }
func (s *Store) sessionKey(ref string) string     { return s.prefix + "sess:" + ref }
func (s *Store) retiredKey(ref string) string     { return s.prefix + "retired:" + ref }
func (s *Store) signingKeyKey(n string) string    { return s.prefix + "sigkey:" + n }
func (s *Store) rateKey(name string) string       { return s.prefix + "rate:" + name }

// subjectKey encodes the subject so that any character (braces included) is safe in a key.
func (s *Store) subjectKey(sub string) string {
	return s.prefix + "sub:" + base64.RawURLEncoding.EncodeToString([]byte(sub))
}

// notBeforeKey holds subject's last revocation time (see RevokeSubject).
func (s *Store) notBeforeKey(sub string) string {
	return s.prefix + "nbf:" + base64.RawURLEncoding.EncodeToString([]byte(sub))
}

// ttl is the Redis TTL of a record expiring at exp: its remaining logical life
// plus Slack; records already expired at write time are kept for Slack only.
func (s *Store) ttl(exp time.Time) time.Duration {
	d := s.slack
	if left := exp.Sub(s.now()); left > 0 {
		d += left
	}
	// Whole milliseconds, at least one: a zero TTL would mean "no expiry".
	return max(d.Truncate(time.Millisecond), time.Millisecond)
}

// expired reports whether a record expiring at exp is logically gone.
func (s *Store) expired(exp time.Time) bool {
	return !s.now().Before(exp)
}

func ms(t time.Time) string        { return strconv.FormatInt(t.UnixMilli(), 10) }
func msDur(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

func checkRecord(kind, id string, exp time.Time) error {
	if id == "" {
		return fmt.Errorf("store: %s without id", kind)
	}
	if exp.IsZero() {
		// Not the id: it may be a browser's secret.
		return fmt.Errorf("store: %s without ExpiresAt", kind)
	}
	return nil
}

// putJSON writes v under key with the TTL derived from exp.
func (s *Store) putJSON(ctx context.Context, c redis.Cmdable, key string, v any, exp time.Time) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode %s: %w", key, err)
	}
	if err := c.Set(ctx, key, b, s.ttl(exp)).Err(); err != nil {
		return fmt.Errorf("store: set: %w", err)
	}
	return nil
}

// getJSON reads key into v; a missing key is ErrNotFound.
func getJSON(ctx context.Context, c redis.Cmdable, key string, v any) error {
	return getJSONFrom(c.Get(ctx, key), v)
}

// getJSONFrom is getJSON from the answer to a GET.
func getJSONFrom(cmd *redis.StringCmd, v any) error {
	b, err := cmd.Bytes()
	if errors.Is(err, redis.Nil) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store: get: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("store: decode: %w", err)
	}
	return nil
}

// del deletes one key (one key per DEL, so Cluster never sees a cross-slot call).
func (s *Store) del(ctx context.Context, what, key string) error {
	if err := s.c.Del(ctx, key).Err(); err != nil {
		return fmt.Errorf("store: delete %s: %w", what, err)
	}
	return nil
}
