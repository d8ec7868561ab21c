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

// UpstreamFlow is one round trip to an upstream provider, from the
// login screen's button to its callback. It is stored under the Ref of
// its state (the value the upstream sends back) and taken exactly once.
type UpstreamFlow struct {
	// State is the state parameter, never stored: the record lives under
	// Ref(State).
	State string `json:"-"`
	// Upstream is the upstreams[].id the flow went to.
	Upstream string `json:"upstream"`
	// AuthRequestID, Nonce and CodeVerifier are secrets: stored only
	// sealed under State, so a copy of Redis does not give them.
	AuthRequestID string `json:"-"`
	Nonce         string `json:"-"`
	CodeVerifier  string `json:"-"`
	// BindingHash is the hash of the value of the browser's binding
	// cookie set at the start: only that browser may come back.
	BindingHash string    `json:"binding_hash"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
	ExpiresAt   time.Time `json:"expires_at"`
	// Logout marks a trip to the upstream's end_session_endpoint rather
	// than a sign-in; AfterLogout is where the browser goes once back
	// (sealed: it may carry a site's state).
	Logout      bool   `json:"logout,omitempty"`
	AfterLogout string `json:"-"`
}

// upstreamSecrets is what is sealed.
type upstreamSecrets struct {
	AuthRequestID string `json:"ar"`
	Nonce         string `json:"nonce"`
	CodeVerifier  string `json:"cv"`
	AfterLogout   string `json:"after,omitempty"`
}

type upstreamFlowRecord struct {
	*UpstreamFlow
	Sealed []byte `json:"sealed"`
}

func (s *Store) upstreamFlowKey(ref string) string { return s.prefix + "upflow:" + ref }

func upstreamSealer(state string) (*seal.Sealer, error) {
	sl, err := seal.Derive([]byte(state), "idp upstream flow: secrets")
	if err != nil {
		return nil, fmt.Errorf("store: upstream flow key: %w", err)
	}
	return sl, nil
}

// SaveUpstreamFlow stores f until f.ExpiresAt.
func (s *Store) SaveUpstreamFlow(ctx context.Context, f *UpstreamFlow) error {
	if err := checkRecord("upstream flow", f.State, f.ExpiresAt); err != nil {
		return err
	}
	ref := Ref(f.State)
	sl, err := upstreamSealer(f.State)
	if err != nil {
		return err
	}
	plain, err := json.Marshal(upstreamSecrets{AuthRequestID: f.AuthRequestID, Nonce: f.Nonce, CodeVerifier: f.CodeVerifier, AfterLogout: f.AfterLogout})
	if err != nil {
		return fmt.Errorf("store: encode upstream flow: %w", err)
	}
	rec := upstreamFlowRecord{UpstreamFlow: f, Sealed: sl.Seal(nil, plain, []byte(ref))}
	return s.putJSON(ctx, s.c, s.upstreamFlowKey(ref), rec, f.ExpiresAt)
}

// TakeUpstreamFlow reads and deletes the flow of state in one step
// (GETDEL), so a state is used once however many callbacks race;
// missing, expired or already taken is ErrNotFound. check, when not nil,
// sees the flow first (without its secrets): its error is returned and
// the flow left in place, so that a state brought back to the wrong place
// or by the wrong browser does not spend the right one's round trip.
func (s *Store) TakeUpstreamFlow(ctx context.Context, state string, check func(*UpstreamFlow) error) (*UpstreamFlow, error) {
	if state == "" {
		return nil, ErrNotFound
	}
	ref := Ref(state)
	key := s.upstreamFlowKey(ref)
	if check != nil {
		rec, err := s.upstreamFlowRecord(s.c.Get(ctx, key))
		if err != nil {
			return nil, err
		}
		if err := check(rec.UpstreamFlow); err != nil {
			return nil, err
		}
	}
	rec, err := s.upstreamFlowRecord(s.c.GetDel(ctx, key))
	if err != nil {
		return nil, err
	}
	sl, err := upstreamSealer(state)
	if err != nil {
		return nil, err
	}
	plain, err := sl.Open(rec.Sealed, []byte(ref))
	if err != nil {
		return nil, fmt.Errorf("store: upstream flow secrets: %w", err)
	}
	var sec upstreamSecrets
	if err := json.Unmarshal(plain, &sec); err != nil {
		return nil, fmt.Errorf("store: decode upstream flow secrets: %w", err)
	}
	f := rec.UpstreamFlow
	f.State, f.AuthRequestID, f.Nonce, f.CodeVerifier, f.AfterLogout = state, sec.AuthRequestID, sec.Nonce, sec.CodeVerifier, sec.AfterLogout
	return f, nil
}

// upstreamFlowRecord decodes what cmd (GET or GETDEL) read: ErrNotFound
// when missing or expired.
func (s *Store) upstreamFlowRecord(cmd *redis.StringCmd) (*upstreamFlowRecord, error) {
	b, err := cmd.Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: upstream flow: %w", err)
	}
	rec := &upstreamFlowRecord{UpstreamFlow: new(UpstreamFlow)}
	if err := json.Unmarshal(b, rec); err != nil {
		return nil, fmt.Errorf("store: decode upstream flow: %w", err)
	}
	if s.expired(rec.ExpiresAt) {
		return nil, ErrNotFound
	}
	return rec, nil
}
