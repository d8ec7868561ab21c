package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/redisbatch"
)

// AuthRequest is an OIDC authorization request between /authorize and the
// token exchange. The login UI fills the second group of fields.
//
// ID travels in URLs (authRequestID) and is never stored: the record lives
// under Ref = Ref(ID). A request loaded by AuthRequestByRef (from a code)
// has an empty ID.
type AuthRequest struct {
	ID                  string    `json:"-"`
	Ref                 string    `json:"-"`
	ClientID            string    `json:"client_id,omitempty"`
	RedirectURI         string    `json:"redirect_uri,omitempty"`
	State               string    `json:"state,omitempty"`
	Nonce               string    `json:"nonce,omitempty"`
	ResponseType        string    `json:"response_type,omitempty"`
	ResponseMode        string    `json:"response_mode,omitempty"`
	CodeChallenge       string    `json:"code_challenge,omitempty"`
	CodeChallengeMethod string    `json:"code_challenge_method,omitempty"`
	LoginHint           string    `json:"login_hint,omitempty"`
	IDTokenHintSubject  string    `json:"id_token_hint_subject,omitempty"`
	Scopes              []string  `json:"scopes,omitempty"`
	Prompt              []string  `json:"prompt,omitempty"`
	UILocales           []string  `json:"ui_locales,omitempty"`
	MaxAge              *uint     `json:"max_age,omitempty"` // nil = absent; 0 is meaningful (prompt=login)
	CreatedAt           time.Time `json:"created_at,omitzero"`
	ExpiresAt           time.Time `json:"expires_at"`
	// BrowserHash is the hash of the value the starting browser holds in
	// its cookie (idp/binding); only that browser may continue.
	BrowserHash string `json:"browser_hash,omitempty"`
	// IDPHint is the site's idp_hint: a profile id that skips the choice
	// on the login screen (checked there; anything unknown is ignored).
	IDPHint string `json:"idp_hint,omitempty"`

	Done      bool      `json:"done,omitempty"`
	Subject   string    `json:"subject,omitempty"`
	AuthTime  time.Time `json:"auth_time,omitzero"`
	AMR       []string  `json:"amr,omitempty"`
	Claims    Claims    `json:"claims,omitzero"`
	SessionID string    `json:"session_id,omitempty"` // the completing session's Ref
	// CodeIssued: the one code of this request was minted.
	CodeIssued bool `json:"code_issued,omitempty"`

	// raw is the record as last read or written, so that an update right
	// after needs no second read (UpdateLoadedAuthRequest).
	raw string
}

// Record is ar without the copy of its stored form that the store keeps
// for the next update: the fields alone, to compare.
func (ar AuthRequest) Record() AuthRequest {
	ar.raw = ""
	return ar
}

// SaveAuthRequest stores (or overwrites) ar under Ref(ar.ID) until
// ar.ExpiresAt, and sets ar.Ref.
func (s *Store) SaveAuthRequest(ctx context.Context, ar *AuthRequest) error {
	if err := checkRecord("auth request", ar.ID, ar.ExpiresAt); err != nil {
		return err
	}
	ar.Ref = Ref(ar.ID)
	return s.putJSON(ctx, s.c, s.authRequestKey(ar.Ref), ar, ar.ExpiresAt)
}

// Admission is a rate counter (see Allow) that an auth request must get
// a place in to be stored.
type Admission struct {
	Name   string
	Window time.Duration
	Limit  int
}

// SaveAuthRequestAdmitted is SaveAuthRequest counted against a, in one
// round trip: when the counter refuses (allowed false, retryAt as Allow
// says), only the counter is left behind. On one slot one script counts
// and writes; on a spread Cluster the counter and the record go together
// and a refused record is deleted again.
func (s *Store) SaveAuthRequestAdmitted(ctx context.Context, ar *AuthRequest, a Admission) (allowed bool, retryAt time.Time, err error) {
	if err := checkRecord("auth request", ar.ID, ar.ExpiresAt); err != nil {
		return false, time.Time{}, err
	}
	args, err := s.rateArgs(a.Name, a.Window, a.Limit, true)
	if err != nil {
		return false, time.Time{}, err
	}
	ar.Ref = Ref(ar.ID)
	b, err := json.Marshal(ar)
	if err != nil {
		return false, time.Time{}, fmt.Errorf("store: encode auth request: %w", err)
	}
	key := s.authRequestKey(ar.Ref)
	if s.oneSlot {
		count := admit.Run(ctx, s.c, []string{s.rateKey(a.Name), key}, append(args, b, msDur(s.ttl(ar.ExpiresAt)))...)
		allowed, _, retryAt, err := rateReply(count, a.Window)
		if err != nil {
			return false, time.Time{}, fmt.Errorf("store: save admitted auth request: %w", err)
		}
		return allowed, retryAt, nil
	}
	var count *redis.Cmd
	var set *redis.StatusCmd
	_, err = redisbatch.Pipelined(ctx, s.c, []*redis.Script{allowScript}, func(p redis.Pipeliner) {
		count = allowScript.EvalSha(ctx, p, []string{s.rateKey(a.Name)}, args...)
		set = p.Set(ctx, key, b, s.ttl(ar.ExpiresAt))
	})
	allowed, _, retryAt, cerr := rateReply(count, a.Window)
	if err == nil && !allowed {
		err = s.del(ctx, "refused auth request", key)
	}
	if err = cmp.Or(cerr, set.Err(), err); err != nil {
		return false, time.Time{}, fmt.Errorf("store: save admitted auth request: %w", err)
	}
	return allowed, retryAt, nil
}

// AuthRequest loads the auth request of an id from a URL; missing or
// expired is ErrNotFound.
func (s *Store) AuthRequest(ctx context.Context, id string) (*AuthRequest, error) {
	ar, err := s.AuthRequestByRef(ctx, Ref(id))
	if err != nil {
		return nil, err
	}
	ar.ID = id
	return ar, nil
}

// AuthRequestByRef loads an auth request by its Ref (what a code or a
// reset flow keeps), with an empty ID; missing or expired is ErrNotFound.
func (s *Store) AuthRequestByRef(ctx context.Context, ref string) (*AuthRequest, error) {
	if !isRef(ref) {
		return nil, ErrNotFound
	}
	var get *redis.StringCmd
	if ride := redisbatch.Rider(ctx); ride != nil {
		// The rider's own answers are its business: only the GET's
		// counts here.
		_, _ = s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			get = p.Get(ctx, s.authRequestKey(ref))
			ride(ctx, p)
			return nil
		})
	} else {
		get = s.c.Get(ctx, s.authRequestKey(ref))
	}
	b, err := get.Result()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: get: %w", err)
	}
	ar := &AuthRequest{raw: b}
	if err := json.Unmarshal([]byte(b), ar); err != nil {
		return nil, fmt.Errorf("store: decode: %w", err)
	}
	if s.expired(ar.ExpiresAt) {
		return nil, ErrNotFound
	}
	ar.Ref = ref
	return ar, nil
}

// UpdateAuthRequest applies fn atomically (WATCH/MULTI, retried; ErrConflict
// when it keeps losing). fn may run more than once; its error is returned as is
// and nothing is written. Missing or expired is ErrNotFound.
func (s *Store) UpdateAuthRequest(ctx context.Context, id string, fn func(*AuthRequest) error) error {
	_, err := s.UpdateLoadedAuthRequest(ctx, &AuthRequest{ID: id}, fn)
	return err
}

// UpdateLoadedAuthRequest is UpdateAuthRequest from ar as the caller read
// (or last updated) it: when the record has not changed since, it takes
// one command. It returns the request as written.
func (s *Store) UpdateLoadedAuthRequest(ctx context.Context, ar *AuthRequest, fn func(*AuthRequest) error) (*AuthRequest, error) {
	id, ref := ar.ID, Ref(ar.ID)
	var written AuthRequest
	raw, err := updateKnownJSON(ctx, s, s.authRequestKey(ref), id, ar.raw,
		func(ar *AuthRequest) time.Time { return ar.ExpiresAt },
		func(ar *AuthRequest) string { return ar.ID },
		func(ar *AuthRequest) error { ar.ID, ar.Ref = id, ref; return nil },
		func(ar *AuthRequest) error {
			if err := fn(ar); err != nil {
				return err
			}
			ar.Ref = ref
			written = *ar
			return nil
		})
	if err != nil {
		return nil, err
	}
	written.raw = raw
	return &written, nil
}

// DeleteAuthRequest removes the auth request of an id; deleting a missing
// one is not an error.
func (s *Store) DeleteAuthRequest(ctx context.Context, id string) error {
	return s.DeleteAuthRequestByRef(ctx, Ref(id))
}

// DeleteAuthRequestByRef removes an auth request by its Ref (once its code
// is redeemed); missing is not an error.
func (s *Store) DeleteAuthRequestByRef(ctx context.Context, ref string) error {
	if !isRef(ref) {
		return nil
	}
	return s.del(ctx, "auth request", s.authRequestKey(ref))
}

// SaveCode binds an authorization code to its auth request (given by id,
// stored by Ref) until expiresAt.
// The code's hash is remembered until rememberUntil, so that a second
// redemption is recognised as a replay rather than an unknown code.
func (s *Store) SaveCode(ctx context.Context, code, authRequestID string, expiresAt, rememberUntil time.Time) error {
	return s.SaveCodeFor(ctx, code, &AuthRequest{ID: authRequestID}, expiresAt, rememberUntil)
}

// SaveCodeFor is SaveCode for the completed request ar, which the code's
// record also keeps until it is redeemed: the token endpoint then reads
// one key instead of two (PeekCode's CodeState.AuthRequest).
func (s *Store) SaveCodeFor(ctx context.Context, code string, ar *AuthRequest, expiresAt, rememberUntil time.Time) error {
	authRequestID := ar.ID
	var snapshot []byte
	if ar.Done {
		b, err := json.Marshal(ar)
		if err != nil {
			return fmt.Errorf("store: encode code's request: %w", err)
		}
		snapshot = b
	}
	if code == "" {
		return errors.New("store: empty code")
	}
	if err := checkRecord("code for auth request", authRequestID, expiresAt); err != nil {
		return err
	}
	rememberUntil = laterOf(rememberUntil, expiresAt)
	err := saveCode.Run(ctx, s.c, []string{s.codeKey(code)},
		Ref(authRequestID), ms(expiresAt), ms(rememberUntil), s.ttl(rememberUntil).Milliseconds(), snapshot).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("store: save code: %w", err)
	}
	return nil
}

// CompleteWithCode writes done, the completed form of loaded, over the
// record as loaded read it, and code's record for it (as SaveCodeFor), in
// one round trip. When the record changed since it was read (another tab,
// a form sent twice), neither is kept and won is false: the caller then
// updates the long way (UpdateLoadedAuthRequest) and saves the code after.
//
// open, when not nil, is the session this sign-in opened: it is saved as
// SaveSession does, in the same round trip, won or not (the person did
// sign in; only the way the request is completed differs).
//
// forget names keys of this Redis (whole names, another package's) to
// delete in the same round trip, won or not: what a right password ends,
// such as the throttle's failures in a row.
func (s *Store) CompleteWithCode(ctx context.Context, loaded, done *AuthRequest, code string, expiresAt, rememberUntil time.Time, open *Session, forget ...string) (won bool, err error) {
	var sess []byte
	if open != nil {
		if err := checkRecord("session", open.ID, open.ExpiresAt); err != nil {
			return false, err
		}
		open.Ref = Ref(open.ID)
		if sess, err = json.Marshal(open); err != nil {
			return false, fmt.Errorf("store: encode session: %w", err)
		}
	}
	if loaded.raw == "" || loaded.ID == "" || done.ID != loaded.ID || !done.Done || code == "" {
		if open != nil {
			if err := s.SaveSession(ctx, open); err != nil {
				return false, err
			}
		}
		return false, s.forget(ctx, forget)
	}
	if err := checkRecord("code for auth request", done.ID, expiresAt); err != nil {
		return false, err
	}
	b, err := json.Marshal(done)
	if err != nil {
		return false, fmt.Errorf("store: encode auth request: %w", err)
	}
	ref := Ref(done.ID)
	rememberUntil = laterOf(rememberUntil, expiresAt)
	keys := []string{s.authRequestKey(ref), s.codeKey(code)}
	args := []any{loaded.raw, b, msDur(s.ttl(done.ExpiresAt)), ref, ms(expiresAt), ms(rememberUntil), msDur(s.ttl(rememberUntil))}
	if s.oneSlot && (open == nil || open.Subject != "") {
		if open != nil {
			keys = append(keys, s.subjectKey(open.Subject), s.sessionKey(open.Ref))
			args = append(args, ms(s.now()), ms(open.ExpiresAt), memberSession+open.Ref, msDur(s.ttl(open.ExpiresAt)), sess, msDur(s.ttl(open.ExpiresAt)))
		}
		var res *redis.Cmd
		_, err := redisbatch.Pipelined(ctx, s.c, []*redis.Script{completeSignIn}, func(p redis.Pipeliner) {
			res = completeSignIn.EvalSha(ctx, p, keys, args...)
			queueDel(ctx, p, forget)
		})
		if err != nil {
			return false, fmt.Errorf("store: complete with code: %w", err)
		}
		n, err := res.Int()
		if err != nil {
			return false, fmt.Errorf("store: complete with code: %w", err)
		}
		return n == 1, nil
	}
	var cas *redis.Cmd
	_, err = redisbatch.Pipelined(ctx, s.c, []*redis.Script{indexScript, indexedSets, compareAndSet, saveCode}, func(p redis.Pipeliner) {
		if open != nil {
			s.queueIndexed(ctx, p, open.Subject, memberSession, open.Ref, []record{{s.sessionKey(open.Ref), sess, open.ExpiresAt}})
		}
		cas = compareAndSet.EvalSha(ctx, p, keys[:1], args[:3]...)
		saveCode.EvalSha(ctx, p, keys[1:2], args[3], args[4], args[5], args[6], b)
		queueDel(ctx, p, forget)
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("store: complete with code: %w", err)
	}
	if n, _ := cas.Int(); n == 1 {
		return true, nil
	}
	// Lost: the code must not outlive its failed completion.
	if err := s.del(ctx, "code", s.codeKey(code)); err != nil {
		return false, err
	}
	return false, nil
}

// queueDel deletes keys, one per DEL so that Cluster never sees a
// cross-slot call.
func queueDel(ctx context.Context, p redis.Pipeliner, keys []string) {
	for _, k := range keys {
		p.Del(ctx, k)
	}
}

// forget deletes keys in one round trip.
func (s *Store) forget(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	if _, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error { queueDel(ctx, p, keys); return nil }); err != nil {
		return fmt.Errorf("store: forget: %w", err)
	}
	return nil
}

// saveCode writes a code's record and its TTL in one command.
var saveCode = redis.NewScript(luaSaveCode + `
saveCode(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
`)

// consumeCode marks a code used in one step: of concurrent callers exactly
// one sees it unused. Returns {auth request Ref, expiry ms, already used}.
var consumeCode = redis.NewScript(luaConsumeCode + `
return consumeCode(KEYS[1])
`)

// ConsumeCode returns the Ref of code's auth request (see AuthRequestByRef)
// and marks the code used: of concurrent callers exactly one wins. An
// unknown or expired code is ErrNotFound; a code presented again is
// ErrCodeReplayed, returned with the Ref so the caller can revoke what the
// first redemption got (RevokeGrant).
func (s *Store) ConsumeCode(ctx context.Context, code string) (string, error) {
	return s.consumed(consumeCode.Run(ctx, s.c, []string{s.codeKey(code)}))
}

// Issued is what a code is exchanged for: an access token without a
// refresh family, and the grant that a replay of the code revokes (see
// SaveAccessTokenFor).
type Issued struct {
	AccessToken    *AccessToken
	AuthRequestRef string
	Grant          Grant
}

// ConsumeCodeFor is ConsumeCode for the code of a sign-in made through the
// session sessionRef by subject: in the same round trip it reads whether
// that session is still alive, and answers ErrSessionEnded, with the
// code's Ref, when it is not (logged out, or revoked after a new password).
//
// When it answers nil, issue (if any) is saved as SaveAccessTokenFor
// would: on one slot by the same script that spends the code, else in a
// second round trip. Whatever the answer, a token of issue is in Redis
// only when the code was spent for a live session.
func (s *Store) ConsumeCodeFor(ctx context.Context, code, sessionRef, subject string, issue *Issued) (string, error) {
	if issue != nil {
		at := issue.AccessToken
		if err := checkRecord("access token", at.ID, at.ExpiresAt); err != nil {
			return "", err
		}
		if err := checkGrant(issue.AuthRequestRef, issue.Grant); err != nil {
			return "", err
		}
		if at.RefreshFamily != "" || at.Subject == "" {
			return "", errors.New("store: a code issues a token of its subject, without refresh family")
		}
	}
	ref, saved, err := s.consumeFor(ctx, code, sessionRef, subject, issue)
	switch {
	case saved && err != nil:
		// Not redeemable after all: nobody holds the token, so the index
		// member left behind only waits for its expiry.
		return ref, errors.Join(err, s.forget(ctx, []string{s.accessTokenKey(issue.AccessToken.ID), s.grantKey(issue.AuthRequestRef)}))
	case !saved && err == nil && issue != nil:
		if err := s.SaveAccessTokenFor(ctx, issue.AccessToken, issue.AuthRequestRef, issue.Grant); err != nil {
			return "", err
		}
	}
	return ref, err
}

// consumeFor is ConsumeCodeFor's reading of the code and session; saved
// tells that the script saved issue.
func (s *Store) consumeFor(ctx context.Context, code, sessionRef, subject string, issue *Issued) (ref string, saved bool, err error) {
	if !isRef(sessionRef) {
		ref, err := s.ConsumeCode(ctx, code)
		return ref, false, err
	}
	consume, sess, nbf, saved, err := s.consumeWithSession(ctx, code, sessionRef, subject, issue)
	if err != nil {
		return "", saved, err
	}
	if ref, err = s.consumed(consume); err != nil {
		return ref, saved, err
	}
	rec := new(Session)
	if err := getJSONFrom(sess, rec); errors.Is(err, ErrNotFound) {
		return ref, saved, ErrSessionEnded
	} else if err != nil {
		return "", saved, err
	}
	if rec.Subject != subject {
		// Not the person the caller named: read it the long way.
		if _, err := s.SessionByRef(ctx, sessionRef); errors.Is(err, ErrNotFound) {
			return ref, saved, ErrSessionEnded
		} else if err != nil {
			return "", saved, err
		}
		return ref, saved, nil
	}
	if s.expired(rec.ExpiresAt) {
		return ref, saved, ErrSessionEnded
	}
	switch old, err := revokedBy(nbf, rec.AuthTime, sessionRef); {
	case err != nil:
		return "", saved, err
	case old:
		return ref, saved, ErrSessionEnded
	}
	return ref, saved, nil
}

// consumeWithSession spends code and reads the session sessionRef and the
// last revocation of subject, in one round trip: one script on one slot
// (which also saves issue when the code was unspent and the session is
// there; saved tells), three commands on a spread Cluster.
func (s *Store) consumeWithSession(ctx context.Context, code, sessionRef, subject string, issue *Issued) (consume *redis.Cmd, sess, nbf *redis.StringCmd, saved bool, err error) {
	keys := []string{s.codeKey(code), s.sessionKey(sessionRef), s.notBeforeKey(subject)}
	if s.oneSlot {
		var args []any
		if issue != nil {
			at, g := issue.AccessToken, issue.Grant
			atb, err := json.Marshal(at)
			if err != nil {
				return nil, nil, nil, false, fmt.Errorf("store: encode access token: %w", err)
			}
			gb, err := json.Marshal(g)
			if err != nil {
				return nil, nil, nil, false, fmt.Errorf("store: encode grant: %w", err)
			}
			keys = append(keys, s.subjectKey(at.Subject), s.accessTokenKey(at.ID), s.grantKey(issue.AuthRequestRef))
			args = []any{ms(s.now()), ms(at.ExpiresAt), memberAccess + at.ID, msDur(s.ttl(at.ExpiresAt)),
				atb, msDur(s.ttl(at.ExpiresAt)), gb, msDur(s.ttl(g.ExpiresAt))}
		}
		consume = consumeCodeFor.Run(ctx, s.c, keys, args...)
		res, err := consume.Slice()
		switch {
		case err != nil:
			// An unknown code, or Redis failed: consumed tells.
			return consume, nil, nil, false, nil
		case len(res) != 5 && len(res) != 6:
			return nil, nil, nil, false, fmt.Errorf("store: consume code: unexpected reply %v", res)
		}
		return consume, stringResult(res[3]), stringResult(res[4]), len(res) == 6, nil
	}
	_, err = redisbatch.Pipelined(ctx, s.c, []*redis.Script{consumeCode}, func(p redis.Pipeliner) {
		consume = consumeCode.EvalSha(ctx, p, keys[:1])
		sess = p.Get(ctx, keys[1])
		nbf = p.Get(ctx, keys[2])
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, nil, false, fmt.Errorf("store: consume code: %w", err)
	}
	return consume, sess, nbf, false, nil
}

// stringResult turns one element of a script's reply into what GET would
// have answered.
func stringResult(v any) *redis.StringCmd {
	if v == nil {
		return redis.NewStringResult("", redis.Nil)
	}
	return redis.NewStringResult(fmt.Sprint(v), nil)
}

// consumed reads consumeCode's answer.
func (s *Store) consumed(cmd *redis.Cmd) (string, error) {
	res, err := cmd.Slice()
	if errors.Is(err, redis.Nil) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("store: consume code: %w", err)
	}
	if len(res) < 3 {
		return "", fmt.Errorf("store: consume code: unexpected reply %v", res)
	}
	ar, _ := res[0].(string)
	expMS, _ := strconv.ParseInt(fmt.Sprint(res[1]), 10, 64)
	if used, _ := res[2].(int64); used == 1 {
		return ar, ErrCodeReplayed
	}
	if s.expired(time.UnixMilli(expMS)) {
		return "", ErrNotFound
	}
	return ar, nil
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// CodeState is what PeekCode tells of a code.
type CodeState struct {
	// AuthRequestRef names the code's auth request (see AuthRequestByRef).
	AuthRequestRef string
	// Used: the code was redeemed already; presenting it again is a replay.
	Used bool
	// AuthRequest is the completed request as the code was minted for it
	// (SaveCodeFor), nil when the record does not keep it: then read it
	// with AuthRequestByRef.
	AuthRequest *AuthRequest
}

// PeekCode looks a code up without using it, so that the token endpoint
// can check who presents it before the code is spent. An unknown code, or
// an unused one past its expiry, is ErrNotFound.
func (s *Store) PeekCode(ctx context.Context, code string) (CodeState, error) {
	v, err := s.c.HMGet(ctx, s.codeKey(code), "ar", "exp", "used", "req").Result()
	if err != nil {
		return CodeState{}, fmt.Errorf("store: peek code: %w", err)
	}
	ar, _ := v[0].(string)
	if ar == "" {
		return CodeState{}, ErrNotFound
	}
	if used, _ := v[2].(string); used != "" {
		return CodeState{AuthRequestRef: ar, Used: true}, nil
	}
	exp, _ := v[1].(string)
	expMS, _ := strconv.ParseInt(exp, 10, 64)
	if s.expired(time.UnixMilli(expMS)) {
		return CodeState{}, ErrNotFound
	}
	cs := CodeState{AuthRequestRef: ar}
	if req, _ := v[3].(string); req != "" {
		snap := new(AuthRequest)
		if err := json.Unmarshal([]byte(req), snap); err == nil && !s.expired(snap.ExpiresAt) {
			snap.Ref = ar
			cs.AuthRequest = snap
		}
	}
	return cs, nil
}
