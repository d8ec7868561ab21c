package ldapsync

import (
	"context"
	"crypto/hpke"
	"strings"
	"testing"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

func TestWorkerOutcomes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SlapdOptions{})
	start(t, e.worker("w1", nil))
	otherKey, _ := job.GenerateKey()
	otherSealer, _ := job.NewSealer(otherKey.PublicKey())
	jdSub, pmSub := e.s.EntryUUID(t, "jdupont"), e.s.EntryUUID(t, "pmartin")
	jd, pm := seeded("jdupont"), seeded("pmartin")

	tests := []struct {
		name                 string
		subject, login, pw   string
		sealer               *job.Sealer
		state                job.State
		reason               job.Reason
		uid, valid, notValid string // afterwards: uid binds with valid, not with notValid
	}{
		{"changed", jdSub, "jdupont", "Nouveau-mot-de-passe-1", nil, job.Done, "", "jdupont", "Nouveau-mot-de-passe-1", jd.Password},
		{"changed by mail", pmSub, pm.Mail, "Nouveau-mot-de-passe-2", nil, job.Done, "", "pmartin", "Nouveau-mot-de-passe-2", pm.Password},
		{"too short", jdSub, "jdupont", "Court-1", nil, job.Rejected, job.ReasonTooShort, "jdupont", "Nouveau-mot-de-passe-1", "Court-1"},
		{"current password", jdSub, "jdupont", "Nouveau-mot-de-passe-1", nil, job.Rejected, job.ReasonInHistory, "jdupont", "Nouveau-mot-de-passe-1", ""},
		{"a recent password", jdSub, "jdupont", jd.Password, nil, job.Rejected, job.ReasonInHistory, "jdupont", "Nouveau-mot-de-passe-1", jd.Password},
		{"unknown login", "no-such-subject", "nobody", "Nouveau-mot-de-passe-3", nil, job.Failed, job.ReasonNoSuchUser, "", "", ""},
		{"login of another person", jdSub, "pmartin", "Nouveau-mot-de-passe-4", nil, job.Failed, job.ReasonNoSuchUser, "pmartin", "Nouveau-mot-de-passe-2", "Nouveau-mot-de-passe-4"},
		{"sealed to another key", jdSub, "jdupont", "Nouveau-mot-de-passe-5", otherSealer, job.Failed, job.ReasonUnreadable, "jdupont", "Nouveau-mot-de-passe-1", "Nouveau-mot-de-passe-5"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := e.sealer
			if tc.sealer != nil {
				s = tc.sealer
			}
			j := e.submitAs(t, tc.subject, tc.login, tc.pw, s)
			st := e.waitSettled(t, j.ID)
			if st.State != tc.state || st.Reason != tc.reason || st.Attempts != 1 {
				t.Fatalf("status = %+v, want %s/%s after 1 attempt", st, tc.state, tc.reason)
			}
			if tc.uid != "" && !e.s.Binds(t, tc.uid, tc.valid) {
				t.Errorf("%s cannot bind with the password that should be in place", tc.uid)
			}
			if tc.notValid != "" && e.s.Binds(t, tc.uid, tc.notValid) {
				t.Errorf("%s can bind with a password that should not work", tc.uid)
			}
			// Settled: no job, no sealed password left; the outcome published.
			if keys := e.rdb.Keys(context.Background(), "*job:"+j.ID).Val(); len(keys) != 0 {
				t.Errorf("job keys left: %q", keys)
			}
			msgs := e.rdb.XRange(context.Background(), e.q.EventsStream(), "-", "+").Val()
			if len(msgs) != i+1 {
				t.Fatalf("%d events, want %d", len(msgs), i+1)
			}
			ev, err := job.ParseEvent(msgs[i])
			if err != nil || ev.JobID != j.ID || ev.Subject != tc.subject || ev.State != tc.state || ev.Reason != tc.reason {
				t.Errorf("event = %+v, %v", ev, err)
			}
			if strings.Contains(strings.ToLower(msgs[i].ID+" "+stringValues(msgs[i].Values)), strings.ToLower(tc.login)) {
				t.Errorf("the event names the login")
			}
		})
	}
}

func stringValues(m map[string]any) string {
	var b strings.Builder
	for k, v := range m {
		b.WriteString(k + "=" + v.(string) + " ")
	}
	return b.String()
}

func TestWorkerNeedsParts(t *testing.T) {
	t.Parallel()
	if err := (&Worker{}).Run(context.Background()); err == nil {
		t.Error("Run without Queue, Opener, Writer succeeded")
	}
	if _, err := New(Options{}); err == nil {
		t.Error("New without Redis and Writer succeeded")
	}
	rdb := testenv.StartRedis(t).Client(t)
	_, err := New(Options{Redis: rdb, Writer: &stepWriter{}})
	if err == nil {
		t.Error("New without keys succeeded")
	}
	k, _ := job.GenerateKey()
	if _, err := New(Options{Redis: rdb, Writer: &stepWriter{}, PrivateKeys: []hpke.PrivateKey{k}}); err == nil {
		t.Error("New without the web tier's public key succeeded")
	}
}

func TestPolicyReason(t *testing.T) {
	t.Parallel()
	for code, want := range map[int8]job.Reason{
		5: job.ReasonQuality, 6: job.ReasonTooShort, 7: job.ReasonTooYoung, 8: job.ReasonInHistory,
		-1: job.ReasonPolicy, 3: job.ReasonPolicy, 4: job.ReasonPolicy,
	} {
		if got := policyReason(code); got != want {
			t.Errorf("policyReason(%d) = %q, want %q", code, got, want)
		}
	}
}
