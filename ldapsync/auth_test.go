package ldapsync

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestForgedJobRefused: someone who can write to Redis and knows the
// worker's public key (it is in the web tier's configuration) seals a
// new password for jdupont and queues it with the real queue code,
// unsigned or signed with a key of their own. The worker refuses it:
// written in neither directory, recorded as refused, and a genuine job
// is still written.
func TestForgedJobRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SlapdOptions{})
	sec := e.startSecond(t)
	start(t, e.targetsWorker("w", []Target{annuaire(e.dir), messagerie(sec.dir, FindByMail)}, nil))
	jd := seeded("jdupont")
	ownKey, _ := job.GenerateSigningKey()
	ownSigner, _ := job.NewSigner(ownKey)

	for i, signer := range []*job.Signer{nil, ownSigner} {
		// The attacker's side: the public key and a Redis connection.
		forged := "Mot-de-passe-de-l-attaquant-" + strconv.Itoa(i)
		e.mu.Lock()
		e.secrets = append(e.secrets, forged)
		e.mu.Unlock()
		sealer, err := job.NewSealer(e.key.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		q := job.NewQueue(job.Options{Client: e.rdb, Prefix: "test:", Now: e.clk.Now})
		now := e.clk.Now()
		j := job.Job{ID: job.NewID(), Subject: e.s.EntryUUID(t, "jdupont"), Login: "jdupont", Mail: jd.Mail,
			CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute)}
		if j.Sealed, err = sealer.Seal(j, forged); err != nil {
			t.Fatal(err)
		}
		if signer != nil {
			if err := signer.Sign(&j); err != nil {
				t.Fatal(err)
			}
		}
		if err := q.Enqueue(context.Background(), j); err != nil {
			t.Fatal(err)
		}

		st := e.waitSettled(t, j.ID)
		want := []string{"annuaire=failed/unauthenticated", "messagerie=failed/unauthenticated"}
		if st.State != job.Failed || st.Reason != job.ReasonUnauthenticated || !slices.Equal(outcomes(st.Targets), want) {
			t.Errorf("forged job settled as %s/%s, targets %q; want failed/unauthenticated everywhere", st.State, st.Reason, outcomes(st.Targets))
		}
		e.checkEvent(t, j.ID, job.Failed, want)
		for _, d := range []*testenv.Slapd{e.s, sec.s} {
			if d.Binds(t, "jdupont", forged) {
				t.Errorf("%s: the forged password was written", d.URL)
			}
			if !d.Binds(t, "jdupont", jd.Password) {
				t.Errorf("%s: the old password no longer binds", d.URL)
			}
		}
	}
	if !strings.Contains(e.logs.String(), "not signed by the web tier") {
		t.Errorf("the refusal is not logged:\n%s", e.logs.String())
	}
	if strings.Contains(e.logs.String(), jd.Mail) {
		t.Error("the logs contain the mail")
	}

	// The web tier's genuine job is written.
	const pw = "Nouveau-mot-de-passe-sur"
	j := e.submitJobFor(t, e.s.EntryUUID(t, "jdupont"), "jdupont", jd.Mail, pw)
	if st := e.waitSettled(t, j.ID); st.State != job.Done {
		t.Fatalf("genuine job: %s/%s %q", st.State, st.Reason, outcomes(st.Targets))
	}
	for _, d := range []*testenv.Slapd{e.s, sec.s} {
		if !d.Binds(t, "jdupont", pw) {
			t.Errorf("%s: the genuine password was not written", d.URL)
		}
	}
}

// jobHash is the raw job record in Redis, as someone who can read it copies it.
func (e *env) jobHash(t *testing.T, id string) map[string]string {
	t.Helper()
	h, err := e.rdb.HGetAll(context.Background(), "test:{pwchange}:job:"+id).Result()
	if err != nil || len(h) == 0 {
		t.Fatalf("job %s not in Redis: %v", id, err)
	}
	return h
}

// putBack writes a copied job record into Redis and makes it due, as
// someone who can write to Redis does, bypassing every check of Enqueue.
func (e *env) putBack(t *testing.T, id string, h map[string]string) {
	t.Helper()
	ctx := context.Background()
	args := make([]any, 0, 2*len(h))
	for k, v := range h {
		args = append(args, k, v)
	}
	if err := e.rdb.HSet(ctx, "test:{pwchange}:job:"+id, args...).Err(); err != nil {
		t.Fatal(err)
	}
	if err := e.rdb.ZAdd(ctx, "test:{pwchange}:ready", redis.Z{Score: float64(e.clk.Now().UnixMilli()), Member: id}).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestReplayedJobRefused: a genuine job copied from Redis while it waited
// is queued again once written. The worker must not write it a second
// time (the directory's history would refuse the same password, but
// only when it keeps one: the worker must not depend on it).
func TestReplayedJobRefused(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"copied back", "status deleted and enqueued again"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testenv.SlapdOptions{})
			w := &stepWriter{Writer: e.dir, reached: make(chan struct{})}
			const pw = "Nouveau-mot-de-passe-1"
			j := e.submit(t, "jdupont", pw)
			copied := e.jobHash(t, j.ID)
			start(t, e.worker("w", func(wk *Worker) { wk.Writer = w }))
			if st := e.waitSettled(t, j.ID); st.State != job.Done {
				t.Fatalf("genuine job: %s/%s", st.State, st.Reason)
			}

			switch how {
			case "copied back":
				e.putBack(t, j.ID, copied)
			default:
				if err := e.rdb.Del(context.Background(), "test:{pwchange}:status:"+j.ID).Err(); err != nil {
					t.Fatal(err)
				}
				// Refused at the door; the worker would drop it too.
				if err := e.q.Enqueue(context.Background(), j); !errors.Is(err, job.ErrConflict) {
					t.Fatalf("Enqueue = %v, want ErrConflict", err)
				}
			}
			testenv.Eventually(t, 10*time.Second, func() (bool, string) {
				return e.rdb.Exists(context.Background(), "test:{pwchange}:job:"+j.ID).Val() == 0, "the replayed job is never taken"
			})
			// Gone: dropped, or settled after its writes; the count is final.
			if n := w.writes.Load(); n != 1 {
				t.Errorf("%d writes to the directory, want 1: the replayed job was written again", n)
			}
			if !e.s.Binds(t, "jdupont", pw) {
				t.Error("the genuine password no longer binds")
			}
			if how != "copied back" {
				return
			}
			if st, err := e.q.Status(context.Background(), j.ID); err != nil || st.State != job.Done {
				t.Errorf("the genuine job's status became %+v, %v", st, err)
			}
			if !strings.Contains(e.logs.String(), "settled already") {
				t.Errorf("the replay is not logged:\n%s", e.logs.String())
			}
		})
	}
}

// TestTamperedJobRefused: a genuine job is altered in Redis while it
// waits. Whatever changed, the worker writes nothing.
func TestTamperedJobRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SlapdOptions{})
	w := &stepWriter{Writer: e.dir, reached: make(chan struct{})}
	pmSub := e.s.EntryUUID(t, "pmartin")
	tests := []struct {
		name   string
		tamper func(rec map[string]any, h map[string]string)
	}{
		{"subject and login of another person", func(rec map[string]any, _ map[string]string) {
			rec["sub"], rec["login"] = pmSub, "pmartin"
		}},
		{"mail of another person", func(rec map[string]any, _ map[string]string) { rec["mail"] = seeded("pmartin").Mail }},
		{"expiry pushed back", func(rec map[string]any, h map[string]string) {
			rec["expires_at"] = time.Now().Add(24 * time.Hour).Format(time.RFC3339Nano)
			h["exp"] = strconv.FormatInt(time.Now().Add(24*time.Hour).UnixMilli(), 10)
		}},
	}
	var jobs []job.Job
	for i, tc := range tests {
		j := e.submit(t, "jdupont", "Nouveau-mot-de-passe-"+strconv.Itoa(i+1))
		h := e.jobHash(t, j.ID)
		var rec map[string]any
		if err := json.Unmarshal([]byte(h["job"]), &rec); err != nil {
			t.Fatal(err)
		}
		tc.tamper(rec, h)
		b, _ := json.Marshal(rec)
		h["job"] = string(b)
		e.putBack(t, j.ID, h)
		jobs = append(jobs, j)
		// One job per person at a time: free jdupont for the next one.
		e.rdb.Del(context.Background(), "test:{pwchange}:pending:"+base64.RawURLEncoding.EncodeToString([]byte(j.Subject)))
	}
	start(t, e.worker("w", func(wk *Worker) { wk.Writer = w }))
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := e.waitSettled(t, jobs[i].ID)
			if st.State != job.Failed || st.Reason != job.ReasonUnauthenticated {
				t.Errorf("status %s/%s, want failed/unauthenticated", st.State, st.Reason)
			}
		})
	}
	if n := w.writes.Load(); n != 0 {
		t.Errorf("%d writes to the directory, want none", n)
	}
	for _, uid := range []string{"jdupont", "pmartin"} {
		if !e.s.Binds(t, uid, seeded(uid).Password) {
			t.Errorf("%s's password changed", uid)
		}
	}
}
