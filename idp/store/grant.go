package store

import (
	"context"
	"encoding/json"
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
	// ReplayedBy marks a replay that came before any token was recorded
	// (MarkReplayed): the client that presented the code again, and the
	// S256 of the verifier it sent. The redemption that then records its
	// tokens (SaveGrantFirst) finds it and revokes them.
	ReplayedBy  string `json:"replayed_by,omitempty"`
	ReplayProof string `json:"replay_proof,omitempty"`
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

// MarkReplayed records that the code of an auth request, given by its Ref,
// was presented again by clientID with proof, when no grant is recorded
// yet: its redemption is still writing the tokens. false: a grant (or
// another mark) is there already, and nothing is written.
func (s *Store) MarkReplayed(ctx context.Context, authRequestRef, clientID, proof string, exp time.Time) (bool, error) {
	g := Grant{ReplayedBy: clientID, ReplayProof: proof, ExpiresAt: exp}
	if err := checkGrant(authRequestRef, g); err != nil {
		return false, err
	}
	b, err := json.Marshal(g)
	if err != nil {
		return false, fmt.Errorf("store: encode grant: %w", err)
	}
	ok, err := s.c.SetNX(ctx, s.grantKey(authRequestRef), b, s.ttl(exp)).Result()
	if err != nil {
		return false, fmt.Errorf("store: mark replayed: %w", err)
	}
	return ok, nil
}

// SaveGrantFirst records g unless a mark of a replay (MarkReplayed) is
// there already: it then returns that mark and writes nothing. Any other
// record there is replaced.
func (s *Store) SaveGrantFirst(ctx context.Context, authRequestRef string, g Grant) (*Grant, error) {
	if err := checkGrant(authRequestRef, g); err != nil {
		return nil, err
	}
	b, err := json.Marshal(g)
	if err != nil {
		return nil, fmt.Errorf("store: encode grant: %w", err)
	}
	key := s.grantKey(authRequestRef)
	ok, err := s.c.SetNX(ctx, key, b, s.ttl(g.ExpiresAt)).Result()
	if err != nil {
		return nil, fmt.Errorf("store: save grant: %w", err)
	}
	if ok {
		return nil, nil
	}
	var there Grant
	switch err := getJSON(ctx, s.c, key, &there); {
	case err == nil && there.ReplayedBy != "":
		return &there, nil
	case err != nil && !errors.Is(err, ErrNotFound):
		return nil, err
	}
	return nil, s.SaveGrant(ctx, authRequestRef, g)
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
	if g.ReplayedBy != "" {
		return nil // a mark, no token yet: kept for the redemption that records them
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
