package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/redisbatch"
)

// Members of the per-subject index (one sorted set per person, score = the
// member's logical expiry in Unix ms).
const (
	memberSession = "s:" // session Ref
	memberFamily  = "f:" // refresh family id
	memberAccess  = "a:" // access token id
)

// indexScript prunes logically expired members, adds one (scores only grow,
// so a shortened record never drops out of the index early) and stretches the
// key's TTL to cover the longest member.
// KEYS[1] index; ARGV now ms, score ms, member, ttl ms.
var indexScript = redis.NewScript(luaIndex + `
index(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
return 1
`)

// index records that subject owns kind+id until exp. An empty subject is not indexed.
func (s *Store) index(ctx context.Context, subject, kind, id string, exp time.Time) error {
	if subject == "" {
		return nil
	}
	key := s.subjectKey(subject)
	err := indexScript.Run(ctx, s.c, []string{key}, ms(s.now()), ms(exp), kind+id, msDur(s.ttl(exp))).Err()
	if err != nil {
		return fmt.Errorf("store: index subject: %w", err)
	}
	return nil
}

// indexedPut indexes kind+id under subject (if any) and writes v under
// key until exp, with the records of more, in one round trip. The index
// goes first; whatever happens to the record, its id reaches no one unless
// the whole write succeeded, so a record RevokeSubject cannot find is
// never handed out.
func (s *Store) indexedPut(ctx context.Context, subject, kind, id, key string, v any, exp time.Time, more ...record) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode %s: %w", kind, err)
	}
	_, err = redisbatch.Pipelined(ctx, s.c, []*redis.Script{indexScript, indexedSets}, func(p redis.Pipeliner) {
		s.queueIndexed(ctx, p, subject, kind, id, append([]record{{key, b, exp}}, more...))
	})
	if err != nil {
		return fmt.Errorf("store: index and set: %w", err)
	}
	return nil
}

// record is one JSON value to SET under key until exp.
type record struct {
	key string
	b   []byte
	exp time.Time
}

// queueIndexed queues indexedPut's index and records on p, whose batch
// must know indexScript and indexedSets: one script on one slot, else the
// index's script and a SET per record.
func (s *Store) queueIndexed(ctx context.Context, p redis.Pipeliner, subject, kind, id string, recs []record) {
	if subject == "" {
		for _, r := range recs {
			p.Set(ctx, r.key, r.b, s.ttl(r.exp))
		}
		return
	}
	idx := []any{ms(s.now()), ms(recs[0].exp), kind + id, msDur(s.ttl(recs[0].exp))}
	if !s.oneSlot {
		indexScript.EvalSha(ctx, p, []string{s.subjectKey(subject)}, idx...)
		for _, r := range recs {
			p.Set(ctx, r.key, r.b, s.ttl(r.exp))
		}
		return
	}
	keys := []string{s.subjectKey(subject)}
	for _, r := range recs {
		keys = append(keys, r.key)
		idx = append(idx, r.b, msDur(s.ttl(r.exp)))
	}
	indexedSets.EvalSha(ctx, p, keys, idx...)
}

// SessionsOf lists the Refs of subject's live sessions, sorted. Members whose
// session is gone or expired are pruned from the index.
func (s *Store) SessionsOf(ctx context.Context, subject string) ([]string, error) {
	return s.liveMembers(ctx, subject, memberSession, func(p redis.Pipeliner, ref string) func() (bool, error) {
		cmd := p.Get(ctx, s.sessionKey(ref))
		return func() (bool, error) {
			b, err := cmd.Bytes()
			if errors.Is(err, redis.Nil) {
				return false, nil
			}
			if err != nil {
				return false, fmt.Errorf("store: read session: %w", err)
			}
			var sess Session
			if err := json.Unmarshal(b, &sess); err != nil {
				return false, fmt.Errorf("store: decode session: %w", err)
			}
			return sess.Subject == subject && !s.expired(sess.ExpiresAt), nil
		}
	})
}

// RefreshFamiliesOf lists the live refresh family ids of subject, sorted,
// pruning revoked and expired ones from the index.
func (s *Store) RefreshFamiliesOf(ctx context.Context, subject string) ([]string, error) {
	return s.liveMembers(ctx, subject, memberFamily, func(p redis.Pipeliner, fam string) func() (bool, error) {
		cmd := p.HGet(ctx, s.familyKey(fam), "exp")
		return func() (bool, error) {
			v, err := cmd.Int64()
			if errors.Is(err, redis.Nil) {
				return false, nil
			}
			if err != nil {
				return false, fmt.Errorf("store: read family: %w", err)
			}
			return s.now().UnixMilli() < v, nil
		}
	})
}

// liveMembers returns the ids of kind indexed under subject for which alive
// (queued on a pipeline, answered after Exec) says true, and prunes the others.
func (s *Store) liveMembers(ctx context.Context, subject, kind string, alive func(redis.Pipeliner, string) func() (bool, error)) ([]string, error) {
	if subject == "" {
		return nil, nil
	}
	key := s.subjectKey(subject)
	now := s.now().UnixMilli()
	members, err := s.c.ZRangeByScore(ctx, key, &redis.ZRangeBy{Min: "(" + strconv.FormatInt(now, 10), Max: "+inf"}).Result()
	if err != nil {
		return nil, fmt.Errorf("store: read subject index: %w", err)
	}
	var ids []string
	for _, m := range members {
		if id, ok := strings.CutPrefix(m, kind); ok {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	p := s.c.Pipeline()
	checks := make([]func() (bool, error), len(ids))
	for i, id := range ids {
		checks[i] = alive(p, id)
	}
	if _, err := p.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("store: check subject members: %w", err)
	}
	var live []string
	var stale []any
	for i, id := range ids {
		ok, err := checks[i]()
		if err != nil {
			return nil, err
		}
		if ok {
			live = append(live, id)
		} else {
			stale = append(stale, kind+id)
		}
	}
	if len(stale) > 0 {
		// Best effort: a failed prune only leaves members that the next read prunes.
		_ = s.c.ZRem(ctx, key, stale...).Err()
	}
	slices.Sort(live)
	return live, nil
}

// RevokeSubject deletes every session, refresh family and access token of
// subject, except the session whose Ref is keepSession ("" keeps none): a person who
// changed the password while signed in stays signed in there. Not atomic across
// keys (they live in different Cluster slots), so it first records the
// revocation time: a session or refresh family saved concurrently, whose
// authentication (a password check that began before now) is older, is then
// never found again (see revoked), unless it belongs to the kept session.
func (s *Store) RevokeSubject(ctx context.Context, subject, keepSession string) error {
	if subject == "" {
		return errors.New("store: revoke empty subject")
	}
	if keepSession != "" && !isRef(keepSession) {
		return errors.New("store: the session to keep must be given by its Ref")
	}
	nbf := strconv.FormatInt(s.now().UnixNano(), 10) + " " + keepSession
	if err := s.c.Set(ctx, s.notBeforeKey(subject), nbf, s.revocationTTL).Err(); err != nil {
		return fmt.Errorf("store: record revocation: %w", err)
	}
	key := s.subjectKey(subject)
	members, err := s.c.ZRange(ctx, key, 0, -1).Result()
	if err != nil {
		return fmt.Errorf("store: read subject index: %w", err)
	}
	if len(members) == 0 {
		return nil
	}
	p := s.c.Pipeline()
	done := make([]any, 0, len(members))
	for _, m := range members {
		if keepSession != "" && m == memberSession+keepSession {
			continue
		}
		switch {
		case strings.HasPrefix(m, memberSession):
			p.Del(ctx, s.sessionKey(m[len(memberSession):]))
		case strings.HasPrefix(m, memberFamily):
			p.Del(ctx, s.familyKey(m[len(memberFamily):]))
		case strings.HasPrefix(m, memberAccess):
			p.Del(ctx, s.accessTokenKey(m[len(memberAccess):]))
		}
		done = append(done, m)
	}
	if len(done) == 0 {
		return nil
	}
	if _, err := p.Exec(ctx); err != nil {
		return fmt.Errorf("store: revoke subject: %w", err)
	}
	// Remove only what was handled: members added meanwhile stay indexed.
	if err := s.c.ZRem(ctx, key, done...).Err(); err != nil {
		return fmt.Errorf("store: revoke subject: %w", err)
	}
	return nil
}

// RevokedSince reports whether subject's sessions were revoked after t:
// what was given to a browser before then (a device token) no longer
// counts.
func (s *Store) RevokedSince(ctx context.Context, subject string, t time.Time) (bool, error) {
	return s.revoked(ctx, subject, t, "")
}

// revoked reports whether a record of subject authenticated at auth, made
// through the session whose Ref is sessionRef, predates subject's last
// revocation (and is not part of the session that revocation kept).
func (s *Store) revoked(ctx context.Context, subject string, auth time.Time, sessionRef string) (bool, error) {
	if subject == "" {
		return false, nil
	}
	return revokedBy(s.c.Get(ctx, s.notBeforeKey(subject)), auth, sessionRef)
}

// revokedBy is revoked from the answer to GET of the person's
// notBeforeKey.
func revokedBy(cmd *redis.StringCmd, auth time.Time, sessionRef string) (bool, error) {
	v, err := cmd.Result()
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("store: read revocation: %w", err)
	}
	at, kept, _ := strings.Cut(v, " ")
	n, err := strconv.ParseInt(at, 10, 64)
	if err != nil {
		return false, fmt.Errorf("store: decode revocation: %w", err)
	}
	if kept != "" && kept == sessionRef {
		return false, nil
	}
	return auth.Before(time.Unix(0, n)), nil
}

// KeepSessionFor records that the session whose Ref is keepSession must survive the
// revocation that follows job jobID (a change made while signed in), until
// exp. It is written before the job is queued, so the completion consumer
// always finds it.
func (s *Store) KeepSessionFor(ctx context.Context, jobID, keepSession string, exp time.Time) error {
	if jobID == "" || !isRef(keepSession) {
		return errors.New("store: KeepSessionFor needs a job and a session Ref")
	}
	if err := s.c.Set(ctx, s.keptKey(jobID), keepSession, s.ttl(exp)).Err(); err != nil {
		return fmt.Errorf("store: keep session: %w", err)
	}
	return nil
}

// SessionKeptFor returns the Ref of the session to keep after job jobID, or "".
func (s *Store) SessionKeptFor(ctx context.Context, jobID string) (string, error) {
	v, err := s.c.Get(ctx, s.keptKey(jobID)).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("store: kept session: %w", err)
	}
	return v, nil
}

func (s *Store) keptKey(jobID string) string { return s.prefix + "keep:" + jobID }
