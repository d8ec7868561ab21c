package store

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RefreshToken describes a refresh-token family: every token obtained by
// rotation from the first one shares it. Only one token of a family, the
// latest, is valid at a time.
type RefreshToken struct {
	FamilyID  string    `json:"family_id"`
	ClientID  string    `json:"client_id,omitempty"`
	Subject   string    `json:"subject,omitempty"`
	Audience  []string  `json:"audience,omitempty"`
	Scopes    []string  `json:"scopes,omitempty"`
	AMR       []string  `json:"amr,omitempty"`
	AuthTime  time.Time `json:"auth_time,omitzero"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	ExpiresAt time.Time `json:"expires_at"` // absolute, for the whole family: rotation never extends it
	Claims    Claims    `json:"claims,omitzero"`
	SessionID string    `json:"session_id,omitempty"`
}

// refreshSecretBytes is the random part of a token value (256 bits).
const refreshSecretBytes = 32

var refreshSecretLen = base64.RawURLEncoding.EncodedLen(refreshSecretBytes)

// A family is one hash, rt:{<family>}: rec = JSON record, exp = expiry (Unix
// ms), cur = SHA-256 of the current token's secret, u:<sha256> = one field per
// rotated-away secret (what tells reuse from a made-up token).

// createFamilyScript: KEYS[1] family; ARGV rec, cur, exp ms, ttl ms.
var createFamilyScript = redis.NewScript(`
if redis.call("EXISTS", KEYS[1]) == 1 then return 0 end
redis.call("HSET", KEYS[1], "rec", ARGV[1], "cur", ARGV[2], "exp", ARGV[3])
redis.call("PEXPIRE", KEYS[1], ARGV[4])
return 1
`)

// useScript reads (ARGV[3] == "") or rotates (ARGV[3] = new secret hash) the
// family's current token. Returns {1, rec} when ARGV[1] is the current token,
// {2} after revoking the family when it is a rotated-away one, {0} otherwise
// (unknown, revoked, expired: nothing changes).
// KEYS[1] family; ARGV presented hash, now ms, new hash.
var useScript = redis.NewScript(`
local v = redis.call("HMGET", KEYS[1], "rec", "cur", "exp")
if not v[1] or tonumber(v[3]) <= tonumber(ARGV[2]) then return {0} end
if v[2] == ARGV[1] then
  if ARGV[3] ~= "" then
    redis.call("HSET", KEYS[1], "cur", ARGV[3], "u:" .. ARGV[1], "1")
  end
  return {1, v[1]}
end
if redis.call("HEXISTS", KEYS[1], "u:" .. ARGV[1]) == 1 then
  redis.call("DEL", KEYS[1])
  return {2}
end
return {0}
`)

// CreateRefreshToken starts a new family from rt (FamilyID is generated when
// empty and written back into rt) and returns its first token value,
// "<familyID>.<secret>". Only the SHA-256 of the secret is stored. An existing
// FamilyID is ErrConflict.
func (s *Store) CreateRefreshToken(ctx context.Context, rt *RefreshToken) (string, error) {
	if rt.FamilyID == "" {
		rt.FamilyID = NewID()
	}
	if !isB64URL(rt.FamilyID) {
		return "", fmt.Errorf("store: refresh family id %q is not base64url", rt.FamilyID)
	}
	if err := checkRecord("refresh family", rt.FamilyID, rt.ExpiresAt); err != nil {
		return "", err
	}
	rec, err := json.Marshal(rt)
	if err != nil {
		return "", fmt.Errorf("store: encode refresh family: %w", err)
	}
	// Index first: a family must never exist without RevokeSubject finding it.
	if err := s.index(ctx, rt.Subject, memberFamily, rt.FamilyID, rt.ExpiresAt); err != nil {
		return "", err
	}
	secret := randomString(refreshSecretBytes)
	ok, err := createFamilyScript.Run(ctx, s.c, []string{s.familyKey(rt.FamilyID)},
		rec, sha256Hex(secret), ms(rt.ExpiresAt), msDur(s.ttl(rt.ExpiresAt))).Int()
	if err != nil {
		return "", fmt.Errorf("store: create refresh family: %w", err)
	}
	if ok == 0 {
		return "", fmt.Errorf("store: refresh family exists: %w", ErrConflict)
	}
	return rt.FamilyID + "." + secret, nil
}

// RefreshToken returns the family record if token is its current token.
// A rotated-away token revokes the family (atomically) and is ErrRefreshReused;
// an unknown, malformed, revoked or expired one is ErrNotFound.
func (s *Store) RefreshToken(ctx context.Context, token string) (*RefreshToken, error) {
	fam, secret, ok := parseRefresh(token)
	if !ok {
		return nil, ErrNotFound
	}
	return s.useFamily(ctx, fam, secret, "")
}

// RotateRefreshToken atomically replaces oldToken, which must be its family's
// current token, with a new token of the same family (same absolute expiry).
// Any other token of the family is reuse: the family is revoked and the error
// is ErrRefreshReused. Of concurrent rotations of one token exactly one wins.
func (s *Store) RotateRefreshToken(ctx context.Context, oldToken string) (string, *RefreshToken, error) {
	fam, secret, ok := parseRefresh(oldToken)
	if !ok {
		return "", nil, ErrNotFound
	}
	next := randomString(refreshSecretBytes)
	rt, err := s.useFamily(ctx, fam, secret, sha256Hex(next))
	if err != nil {
		return "", nil, err
	}
	return fam + "." + next, rt, nil
}

func (s *Store) useFamily(ctx context.Context, fam, secret, nextHash string) (*RefreshToken, error) {
	res, err := useScript.Run(ctx, s.c, []string{s.familyKey(fam)}, sha256Hex(secret), ms(s.now()), nextHash).Slice()
	if err != nil {
		return nil, fmt.Errorf("store: use refresh token: %w", err)
	}
	if len(res) == 0 {
		return nil, errors.New("store: use refresh token: empty script reply")
	}
	switch res[0] {
	case int64(1):
		rec, _ := res[1].(string)
		rt := new(RefreshToken)
		if err := json.Unmarshal([]byte(rec), rt); err != nil {
			return nil, fmt.Errorf("store: decode refresh family: %w", err)
		}
		return s.liveFamily(ctx, rt)
	case int64(2):
		return nil, ErrRefreshReused
	default:
		return nil, ErrNotFound
	}
}

// RefreshFamily loads a family record by id, without any token (e.g. to check
// its client before revoking it). Revoked or expired is ErrNotFound.
func (s *Store) RefreshFamily(ctx context.Context, familyID string) (*RefreshToken, error) {
	if !isB64URL(familyID) {
		return nil, ErrNotFound
	}
	v, err := s.c.HMGet(ctx, s.familyKey(familyID), "rec", "exp").Result()
	if err != nil {
		return nil, fmt.Errorf("store: read refresh family: %w", err)
	}
	rec, _ := v[0].(string)
	exp, _ := v[1].(string)
	if rec == "" || exp == "" {
		return nil, ErrNotFound
	}
	if expMs, err := strconv.ParseInt(exp, 10, 64); err != nil || s.now().UnixMilli() >= expMs {
		return nil, ErrNotFound
	}
	rt := new(RefreshToken)
	if err := json.Unmarshal([]byte(rec), rt); err != nil {
		return nil, fmt.Errorf("store: decode refresh family: %w", err)
	}
	return s.liveFamily(ctx, rt)
}

// liveFamily returns rt unless its sign-in predates the person's last
// revocation (ErrNotFound): a family created while RevokeSubject ran.
func (s *Store) liveFamily(ctx context.Context, rt *RefreshToken) (*RefreshToken, error) {
	if old, err := s.revoked(ctx, rt.Subject, rt.AuthTime, rt.SessionID); err != nil || old {
		return nil, cmp.Or(err, ErrNotFound)
	}
	return rt, nil
}

// RevokeRefreshFamily deletes a family: its tokens and its access tokens stop
// working at once. Missing is not an error.
func (s *Store) RevokeRefreshFamily(ctx context.Context, familyID string) error {
	if !isB64URL(familyID) {
		return nil // no such family can exist
	}
	return s.del(ctx, "refresh family", s.familyKey(familyID))
}

// RefreshFamilyOf extracts the family id of a token value without asking Redis
// (e.g. to revoke a family or to log it: the family id alone grants nothing).
func (s *Store) RefreshFamilyOf(token string) (string, bool) {
	fam, _, ok := parseRefresh(token)
	return fam, ok
}

func parseRefresh(token string) (fam, secret string, ok bool) {
	fam, secret, ok = strings.Cut(token, ".")
	if !ok || !isB64URL(fam) || len(secret) != refreshSecretLen || !isB64URL(secret) {
		return "", "", false
	}
	return fam, secret, true
}

// moveFamilyScript points a family's record at another session: KEYS[1]
// family; ARGV the record's session field as it is, then as it becomes.
// The token hashes are left alone, so a rotation running at the same time
// is neither lost nor undone.
var moveFamilyScript = redis.NewScript(`
local rec = redis.call("HGET", KEYS[1], "rec")
if not rec then return 0 end
local i, j = string.find(rec, ARGV[1], 1, true)
if not i then return 0 end
redis.call("HSET", KEYS[1], "rec", string.sub(rec, 1, i - 1) .. ARGV[2] .. string.sub(rec, j + 1))
return 1
`)

// MoveSessionFamilies makes subject's refresh families obtained through
// the session whose Ref is from belong to the session whose Ref is to: the
// same person signed in again in the same browser, and the sites' offline
// access lives on with the new session (and ends with it).
func (s *Store) MoveSessionFamilies(ctx context.Context, subject, from, to string) error {
	families, err := s.RefreshFamiliesOf(ctx, subject)
	if err != nil {
		return err
	}
	field := func(ref string) (string, error) {
		b, err := json.Marshal(ref)
		return `"session_id":` + string(b), err
	}
	old, err := field(from)
	if err != nil {
		return fmt.Errorf("store: encode session ref: %w", err)
	}
	next, err := field(to)
	if err != nil {
		return fmt.Errorf("store: encode session ref: %w", err)
	}
	for _, fam := range families {
		if err := moveFamilyScript.Run(ctx, s.c, []string{s.familyKey(fam)}, old, next).Err(); err != nil {
			return fmt.Errorf("store: move refresh family: %w", err)
		}
	}
	return nil
}
