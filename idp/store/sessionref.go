package store

import "context"

// DeleteSessionByRef removes the session named by its Ref (what other
// records and the admin commands know; the cookie value is never stored).
// Missing is not an error; its index member is pruned by the next read.
func (s *Store) DeleteSessionByRef(ctx context.Context, ref string) error {
	if !isRef(ref) {
		return nil // no such session can exist
	}
	return s.del(ctx, "session", s.sessionKey(ref))
}
