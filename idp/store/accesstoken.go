package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// AccessToken is the server-side record of an opaque access token (the client
// holds an encrypted form of ID).
type AccessToken struct {
	ID            string    `json:"id"`
	ClientID      string    `json:"client_id,omitempty"`
	Subject       string    `json:"subject,omitempty"`
	RefreshFamily string    `json:"refresh_family,omitempty"` // set when issued with/by a refresh token
	Audience      []string  `json:"audience,omitempty"`
	Scopes        []string  `json:"scopes,omitempty"`
	AMR           []string  `json:"amr,omitempty"`
	AuthTime      time.Time `json:"auth_time,omitzero"`
	CreatedAt     time.Time `json:"created_at,omitzero"`
	ExpiresAt     time.Time `json:"expires_at"`
	Claims        Claims    `json:"claims,omitzero"`
}

// bindScript checks that a refresh family is alive before one of its access
// tokens is stored, and stretches the family key's TTL to outlive the token:
// the family key's existence is what keeps the token valid (see AccessToken).
// KEYS[1] family; ARGV now ms, access token ttl ms.
var bindScript = redis.NewScript(`
local exp = redis.call("HGET", KEYS[1], "exp")
if not exp or tonumber(exp) <= tonumber(ARGV[1]) then return 0 end
if redis.call("PTTL", KEYS[1]) < tonumber(ARGV[2]) then
  redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 1
`)

// SaveAccessToken stores at until at.ExpiresAt.
//
// With RefreshFamily set, the family must exist and be unexpired (create the
// family first), else ErrNotFound; the token then lives only as long as the
// family is not revoked. Every token with a Subject is indexed under it, so
// RevokeSubject deletes it even after its family's own end.
func (s *Store) SaveAccessToken(ctx context.Context, at *AccessToken) error {
	if err := checkRecord("access token", at.ID, at.ExpiresAt); err != nil {
		return err
	}
	if at.RefreshFamily != "" {
		if !isB64URL(at.RefreshFamily) {
			return fmt.Errorf("store: access token family: %w", ErrNotFound)
		}
		ok, err := bindScript.Run(ctx, s.c, []string{s.familyKey(at.RefreshFamily)}, ms(s.now()), msDur(s.ttl(at.ExpiresAt))).Int()
		if err != nil {
			return fmt.Errorf("store: bind access token to family: %w", err)
		}
		if ok == 0 {
			return fmt.Errorf("store: access token family: %w", ErrNotFound)
		}
	}
	return s.indexedPut(ctx, at.Subject, memberAccess, at.ID, s.accessTokenKey(at.ID), at, at.ExpiresAt)
}

// SaveAccessTokenFor is SaveAccessToken for a token issued from a code: the
// grant that a replay of the code revokes (see SaveGrant), under the Ref
// of the code's auth request, is written in the same round trip.
func (s *Store) SaveAccessTokenFor(ctx context.Context, at *AccessToken, authRequestRef string, g Grant) error {
	if at.RefreshFamily != "" {
		if err := s.SaveAccessToken(ctx, at); err != nil {
			return err
		}
		return s.SaveGrant(ctx, authRequestRef, g)
	}
	if err := checkRecord("access token", at.ID, at.ExpiresAt); err != nil {
		return err
	}
	if err := checkGrant(authRequestRef, g); err != nil {
		return err
	}
	gb, err := json.Marshal(g)
	if err != nil {
		return fmt.Errorf("store: encode grant: %w", err)
	}
	return s.indexedPut(ctx, at.Subject, memberAccess, at.ID, s.accessTokenKey(at.ID), at, at.ExpiresAt,
		record{s.grantKey(authRequestRef), gb, g.ExpiresAt})
}

// AccessToken loads an access token. Missing, expired, or belonging to a
// revoked refresh family (checked on every read) is ErrNotFound.
func (s *Store) AccessToken(ctx context.Context, id string) (*AccessToken, error) {
	at := new(AccessToken)
	if err := getJSON(ctx, s.c, s.accessTokenKey(id), at); err != nil {
		return nil, err
	}
	if s.expired(at.ExpiresAt) {
		return nil, ErrNotFound
	}
	if at.RefreshFamily != "" {
		n, err := s.c.Exists(ctx, s.familyKey(at.RefreshFamily)).Result()
		if err != nil {
			return nil, fmt.Errorf("store: check refresh family: %w", err)
		}
		if n == 0 {
			return nil, ErrNotFound
		}
	}
	return at, nil
}

// DeleteAccessToken removes an access token; missing is not an error.
func (s *Store) DeleteAccessToken(ctx context.Context, id string) error {
	return s.del(ctx, "access token", s.accessTokenKey(id))
}
