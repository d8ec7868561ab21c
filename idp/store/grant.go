package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Grant is what one authorization code was exchanged for: if the code is
// presented again, all of it is revoked (RFC 6749 §4.1.2).
type Grant struct {
	AccessTokenIDs []string  `json:"access_token_ids,omitempty"`
	FamilyID       string    `json:"family_id,omitempty"`
	ExpiresAt      time.Time `json:"expires_at"`
	// ClientID and the PKCE challenge of the code let a replay revoke only
	// when it comes from the client that redeemed the code.
	ClientID            string `json:"client_id,omitempty"`
	CodeChallenge       string `json:"code_challenge,omitempty"`
	CodeChallengeMethod string `json:"code_challenge_method,omitempty"`
}

// SaveGrant records the tokens issued for an auth request, given by its Ref.
func (s *Store) SaveGrant(ctx context.Context, authRequestRef string, g Grant) error {
	if err := checkGrant(authRequestRef, g); err != nil {
		return err
	}
	return s.putJSON(ctx, s.c, s.grantKey(authRequestRef), g, g.ExpiresAt)
}

func checkGrant(authRequestRef string, g Grant) error {
	if err := checkRecord("grant", authRequestRef, g.ExpiresAt); err != nil {
		return err
	}
	if !isRef(authRequestRef) {
		return errors.New("store: a grant needs its auth request's Ref")
	}
	return nil
}

// Grant loads what a code was exchanged for, given by its auth request's
// Ref; ErrNotFound when nothing is recorded.
func (s *Store) Grant(ctx context.Context, authRequestRef string) (*Grant, error) {
	if !isRef(authRequestRef) {
		return nil, ErrNotFound
	}
	g := new(Grant)
	if err := getJSON(ctx, s.c, s.grantKey(authRequestRef), g); err != nil {
		return nil, err
	}
	return g, nil
}

// RevokeGrant revokes every token issued for an auth request, given by its
// Ref (as ConsumeCode returns it). Nothing to revoke is not an error.
func (s *Store) RevokeGrant(ctx context.Context, authRequestRef string) error {
	if !isRef(authRequestRef) {
		return nil
	}
	var g Grant
	err := getJSON(ctx, s.c, s.grantKey(authRequestRef), &g)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: grant: %w", err)
	}
	for _, id := range g.AccessTokenIDs {
		if err := s.DeleteAccessToken(ctx, id); err != nil {
			return err
		}
	}
	if g.FamilyID != "" {
		if err := s.RevokeRefreshFamily(ctx, g.FamilyID); err != nil {
			return err
		}
	}
	return s.del(ctx, "grant", s.grantKey(authRequestRef))
}
