package login

import (
	"context"
	"errors"
	"fmt"

	"github.com/region-nouvelle-aquitaine/idp/idp/store"
)

// FamilyStore lists and revokes a person's refresh families.
type FamilyStore interface {
	RefreshFamiliesOf(ctx context.Context, subject string) ([]string, error)
	RefreshFamily(ctx context.Context, familyID string) (*store.RefreshToken, error)
	RevokeRefreshFamily(ctx context.Context, familyID string) error
}

// RevokeSessionFamilies revokes the refresh families of subject obtained
// through the session whose Ref is sessionRef, and returns their ids:
// ending a session ends the sites' offline access it granted. Sessions.End
// and the admin commands share it.
func RevokeSessionFamilies(ctx context.Context, st FamilyStore, subject, sessionRef string) ([]string, error) {
	families, err := st.RefreshFamiliesOf(ctx, subject)
	if err != nil {
		return nil, fmt.Errorf("list refresh families: %w", err)
	}
	var revoked []string
	for _, fam := range families {
		rt, err := st.RefreshFamily(ctx, fam)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return revoked, fmt.Errorf("refresh family: %w", err)
		}
		if rt.SessionID == sessionRef {
			if err := st.RevokeRefreshFamily(ctx, fam); err != nil {
				return revoked, fmt.Errorf("revoke refresh family: %w", err)
			}
			revoked = append(revoked, fam)
		}
	}
	return revoked, nil
}
