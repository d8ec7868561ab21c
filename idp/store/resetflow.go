package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/seal"
)

// ResetFlow is one « Mot de passe perdu » journey, from the profile choice
// to the new password. Its id travels in a SameSite=Strict cookie of the
// browser that started it. Codes and link tokens are stored only as keyed
// hashes; the typed address is kept to send a new code without asking for
// it again.
type ResetFlow struct {
	// ID is the cookie value, never stored: the record lives under Ref =
	// Ref(ID), both filled by every read and by SaveResetFlow.
	ID  string `json:"-"`
	Ref string `json:"-"`
	// AuthRequestID is the pending sign-in to return to. It is stored only
	// encrypted under ID, so that only the browser holding the flow can
	// use it; AuthRequestRef (set by the store) names it in the clear.
	// A flow moved to another browser (MoveResetFlow) keeps the Ref only.
	AuthRequestID  string    `json:"-"`
	AuthRequestRef string    `json:"auth_request_ref,omitempty"`
	Email          string    `json:"email,omitempty"` // as typed (a lookup key only)
	CreatedAt      time.Time `json:"created_at,omitzero"`
	ExpiresAt      time.Time `json:"expires_at"`

	// Set off the request path when the address matched one account:
	// Subject is the person's sub; Login and Mail (the directory's
	// address) are how the directory writer finds them.
	Subject string `json:"subject,omitempty"`
	Login   string `json:"login,omitempty"`
	Mail    string `json:"mail,omitempty"`
	// CodeHash and LinkHash are HMACs of the current code and link token.
	CodeHash      string    `json:"code_hash,omitempty"`
	LinkHash      string    `json:"link_hash,omitempty"`
	CodeExpiresAt time.Time `json:"code_expires_at,omitzero"`
	CodeTries     int       `json:"code_tries,omitempty"`
	CodesSent     int       `json:"codes_sent,omitempty"`
	// Device is the id of the browser's device token when the current
	// code was sent within the budget of the person's own browsers (ones
	// they signed in with), apart from the address's.
	Device string `json:"device,omitempty"`

	// Verified is set once the code or the link was accepted.
	Verified bool `json:"verified,omitempty"`
	// OtherBrowser: verified through the link in a browser that did not
	// start the flow, which must never resume the pending sign-in.
	OtherBrowser bool `json:"other_browser,omitempty"`

	// JobID is the password change queued for ldapsync (step 5); Changed
	// is set once the directory confirmed it. NotChangedIn names the
	// services (their labels) that still hold the old password when the
	// change reached only some of them.
	JobID        string   `json:"job_id,omitempty"`
	Changed      bool     `json:"changed,omitempty"`
	NotChangedIn []string `json:"not_changed_in,omitempty"`

	// Purpose says why the person sets a new password: "" after a lost
	// password, else one of the Purpose constants (the current password
	// was checked instead of a code).
	Purpose string `json:"purpose,omitempty"`
	// KeepSession is the Ref of the SSO session a change was made from:
	// it survives the revocation that follows.
	KeepSession string `json:"keep_session,omitempty"`
	// ReturnTo is where « Continuer » leads at the end: an address of
	// another SSO's allowlist (reset.return_to), checked when the flow
	// starts. It is no secret and stays in the record, so a flow taken
	// over through the mailed link in another browser keeps it.
	ReturnTo string `json:"return_to,omitempty"`
}

// resetFlowRecord is what a flow key holds: the flow, with its pending
// sign-in's id sealed under the flow's id.
type resetFlowRecord struct {
	*ResetFlow
	SealedAuthRequest []byte `json:"sealed_auth_request,omitempty"`
}

// flowSealer seals a flow's secrets under its id (128 random bits), so a
// copy of Redis alone cannot open them.
func flowSealer(id string) (*seal.Sealer, error) {
	s, err := seal.Derive([]byte(id), "idp reset flow: auth request id")
	if err != nil {
		return nil, fmt.Errorf("store: flow key: %w", err)
	}
	return s, nil
}

// record prepares f for storage: Ref, AuthRequestRef, the sealed id.
func (f *ResetFlow) record() (*resetFlowRecord, error) {
	f.Ref = Ref(f.ID)
	rec := &resetFlowRecord{ResetFlow: f}
	if f.AuthRequestID == "" {
		return rec, nil
	}
	f.AuthRequestRef = Ref(f.AuthRequestID)
	s, err := flowSealer(f.ID)
	if err != nil {
		return nil, err
	}
	rec.SealedAuthRequest = s.Seal(nil, []byte(f.AuthRequestID), []byte(f.Ref))
	return rec, nil
}

// open fills what a stored flow lacks, given the id it was read by.
func (rec *resetFlowRecord) open(id string) error {
	rec.ID, rec.Ref, rec.AuthRequestID = id, Ref(id), ""
	if len(rec.SealedAuthRequest) == 0 {
		return nil
	}
	s, err := flowSealer(id)
	if err != nil {
		return err
	}
	b, err := s.Open(rec.SealedAuthRequest, []byte(rec.Ref))
	if err != nil {
		return fmt.Errorf("store: reset flow's auth request: %w", err)
	}
	rec.AuthRequestID = string(b)
	return nil
}

// Why a verified flow did not start with a code.
const (
	PurposeChange     = "change"      // signed in, from the landing page
	PurposeMustChange = "must_change" // at sign-in, after an administrator's reset
	PurposeExpired    = "expired"     // at sign-in or signed in, the password has expired
)

// linkRecord is what a link key holds; only the token's hash is in the key.
type linkRecord struct {
	FlowRef   string    `json:"flow_ref"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *Store) resetFlowKey(ref string) string  { return s.prefix + "reset:" + ref }
func (s *Store) resetLinkKey(hash string) string { return s.prefix + "resetlink:" + hash }

// SaveResetFlow stores (or overwrites) a flow until its ExpiresAt and sets
// f.Ref and f.AuthRequestRef.
func (s *Store) SaveResetFlow(ctx context.Context, f *ResetFlow) error {
	if err := checkRecord("reset flow", f.ID, f.ExpiresAt); err != nil {
		return err
	}
	rec, err := f.record()
	if err != nil {
		return err
	}
	return s.putJSON(ctx, s.c, s.resetFlowKey(f.Ref), rec, f.ExpiresAt)
}

// ResetFlow loads the flow of a cookie value; missing or expired is ErrNotFound.
func (s *Store) ResetFlow(ctx context.Context, id string) (*ResetFlow, error) {
	rec := &resetFlowRecord{ResetFlow: new(ResetFlow)}
	if err := getJSON(ctx, s.c, s.resetFlowKey(Ref(id)), rec); err != nil {
		return nil, err
	}
	if s.expired(rec.ExpiresAt) {
		return nil, ErrNotFound
	}
	if err := rec.open(id); err != nil {
		return nil, err
	}
	return rec.ResetFlow, nil
}

// UpdateResetFlow applies fn atomically (WATCH/MULTI on the flow's key):
// concurrent code submissions cannot both use the last try.
func (s *Store) UpdateResetFlow(ctx context.Context, id string, fn func(*ResetFlow) error) error {
	return updateJSON(ctx, s, s.resetFlowKey(Ref(id)), id,
		func(rec *resetFlowRecord) time.Time { return rec.ExpiresAt },
		func(rec *resetFlowRecord) string { return rec.ID },
		func(rec *resetFlowRecord) error {
			if rec.ResetFlow == nil {
				rec.ResetFlow = new(ResetFlow)
			}
			return rec.open(id)
		},
		func(rec *resetFlowRecord) error {
			if err := fn(rec.ResetFlow); err != nil {
				return err
			}
			if rec.ID != id {
				return errors.New("store: an update changed the flow's id")
			}
			sealed, err := rec.record()
			if err != nil {
				return err
			}
			*rec = *sealed
			return nil
		})
}

// MoveResetFlow gives the flow named by ref (a link's, see ResetLink) a new
// id and returns it: the browser that held the old id no longer finds it.
// It moves the flow only while linkHash is its current link (ErrNotFound
// otherwise, the flow left where it is): a link mailed for an address the
// flow no longer stands for must not take it away. Of concurrent moves one
// wins; the others get ErrNotFound. The pending sign-in's id cannot be
// carried over (it was sealed under the old id): the moved flow keeps
// AuthRequestRef only.
func (s *Store) MoveResetFlow(ctx context.Context, ref, linkHash string) (*ResetFlow, error) {
	if !isRef(ref) || linkHash == "" {
		return nil, ErrNotFound
	}
	key := s.resetFlowKey(ref)
	old, err := s.c.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: move reset flow: %w", err)
	}
	rec := &resetFlowRecord{ResetFlow: new(ResetFlow)}
	if err := json.Unmarshal([]byte(old), rec); err != nil {
		return nil, fmt.Errorf("store: decode reset flow: %w", err)
	}
	if s.expired(rec.ExpiresAt) || rec.LinkHash != linkHash {
		return nil, ErrNotFound
	}
	// Taken only as read: a flow changed meanwhile (another address, a
	// new code, another move) stays where it is.
	taken, err := compareAndDelete.Run(ctx, s.c, []string{key}, old).Int()
	if err != nil {
		return nil, fmt.Errorf("store: move reset flow: %w", err)
	}
	if taken == 0 {
		return nil, ErrNotFound
	}
	f := rec.ResetFlow
	f.ID, f.AuthRequestID = NewID(), ""
	if err := s.SaveResetFlow(ctx, f); err != nil {
		return nil, err
	}
	return f, nil
}

// DeleteResetFlow removes the flow of a cookie value (idempotent).
func (s *Store) DeleteResetFlow(ctx context.Context, id string) error {
	return s.del(ctx, "reset flow", s.resetFlowKey(Ref(id)))
}

// SaveResetLink maps a link token's hash to its flow (given by id, stored
// by Ref) until expiresAt.
func (s *Store) SaveResetLink(ctx context.Context, hash, flowID string, expiresAt time.Time) error {
	if err := checkRecord("reset link", flowID, expiresAt); err != nil {
		return err
	}
	return s.putJSON(ctx, s.c, s.resetLinkKey(hash), linkRecord{FlowRef: Ref(flowID), ExpiresAt: expiresAt}, expiresAt)
}

// ResetLink returns the Ref of the flow a link token's hash belongs to,
// without consuming it: a GET of the link (a mail scanner) must not use it
// up. The browser holding the flow has the id whose Ref it is; another
// browser can take the flow over with MoveResetFlow.
func (s *Store) ResetLink(ctx context.Context, hash string) (string, error) {
	var rec linkRecord
	if err := getJSON(ctx, s.c, s.resetLinkKey(hash), &rec); err != nil {
		return "", err
	}
	if s.expired(rec.ExpiresAt) {
		return "", ErrNotFound
	}
	return rec.FlowRef, nil
}

// ConsumeResetLink returns the flow Ref of a link token's hash and deletes
// the mapping in the same step (GETDEL): the link works once.
func (s *Store) ConsumeResetLink(ctx context.Context, hash string) (string, error) {
	b, err := s.c.GetDel(ctx, s.resetLinkKey(hash)).Bytes()
	if errors.Is(err, redis.Nil) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("store: consume reset link: %w", err)
	}
	var rec linkRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return "", fmt.Errorf("store: decode reset link: %w", err)
	}
	if s.expired(rec.ExpiresAt) {
		return "", ErrNotFound
	}
	return rec.FlowRef, nil
}

// DeleteResetLink forgets a link token (a new code replaces it).
func (s *Store) DeleteResetLink(ctx context.Context, hash string) error {
	return s.del(ctx, "reset link", s.resetLinkKey(hash))
}
