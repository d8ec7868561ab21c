package app_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// signedInOnBoth signs Users()[0] in on both sites in one client, with
// offline_access, and returns the client, the two refresh tokens and
// every token seen.
func signedInOnBoth(t *testing.T, s *stack) (*browserless, []string, []string) {
	t.Helper()
	extra := url.Values{"scope": {"openid email offline_access"}}
	b, first := signedIn(t, s, s.Sites[0], extra)
	code, verifier := b.code(s.Sites[1], extra)
	second := s.token(t, s.Sites[1], codeForm(code, verifier, s.Sites[1].URL+"/callback"), true)
	if second.status != http.StatusOK {
		t.Fatalf("token on site2: %d %v", second.status, second.body)
	}
	var refresh, all []string
	for _, body := range []map[string]any{first, second.body} {
		rt, _ := body["refresh_token"].(string)
		if rt == "" {
			t.Fatalf("no refresh token: %v", body)
		}
		refresh = append(refresh, rt)
		for _, k := range []string{"access_token", "refresh_token", "id_token"} {
			if v, _ := body[k].(string); v != "" {
				all = append(all, v)
			}
		}
	}
	for _, st := range s.Sites {
		if e := b.silent(st, nil); e != "" {
			t.Fatalf("before the reset, silent sign-in on %s: %q", st.ClientID, e)
		}
	}
	return b, refresh, all
}

// subjectOf reads the sub claim of an ID token (already verified by the
// token endpoint's client; only its payload matters here).
func subjectOf(t *testing.T, idToken string) string {
	t.Helper()
	parts := strings.Split(idToken, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ Sub string }
	if err := json.Unmarshal(payload, &c); err != nil || c.Sub == "" {
		t.Fatalf("no sub in the ID token: %v", err)
	}
	return c.Sub
}

// A person signed in on two sites resets the password in a third client:
// both sessions and both refresh tokens end, and the notice reaches the
// directory's address; also when the resetting client never looks at the
// waiting screen. A copy of the event changes nothing.
func TestResetCompletion(t *testing.T) {
	tests := []struct {
		name string
		// change sets the new password from the verified client.
		change func(t *testing.T, r resetClient, pw string)
	}{
		{"following the waiting screen", func(t *testing.T, r resetClient, pw string) {
			if path, _ := r.setPassword(pw, pw); path != "/mot-de-passe-perdu/termine" {
				t.Fatalf("at %s", path)
			}
		}},
		{"tab closed on the waiting screen", func(t *testing.T, r resetClient, pw string) {
			tok, _ := r.formToken("/mot-de-passe-perdu/nouveau")
			resp, _ := r.post("/mot-de-passe-perdu/nouveau", url.Values{"csrf_token": {tok}, "password": {pw}, "confirmation": {pw}}, nil)
			if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/mot-de-passe-perdu/attente") {
				t.Fatalf("POST: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
			}
			// Nothing more: the browser is gone.
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Two directories: the change is written to both, then completed.
			s := startStackWith(t, stackOptions{Second: &testenv.SlapdOptions{}})
			u := testenv.Users()[0]
			b, refresh, tokens := signedInOnBoth(t, s)

			r := verifiedReset(t, s, u.Mail)
			mailed := parseResetMail(t, s.SMTP.Messages()[0])
			const fresh = "Une phrase de passe après la fin des sessions"
			tt.change(t, r, fresh)

			notice := mailAfter(t, s, 1, u.Mail, noticeMail)
			resetURL := s.cfg.PublicURL + "/mot-de-passe-perdu"
			for _, want := range []string{"\n" + resetURL + "\n", "\n" + s.cfg.SupportURL + "\n", "(heure de Paris)"} {
				if !strings.Contains(strings.ReplaceAll(notice.Text, "\r\n", "\n"), want) {
					t.Errorf("the notice lacks %q:\n%s", want, notice.Text)
				}
			}
			if !strings.Contains(notice.HTML, `href="`+resetURL+`"`) || strings.Contains(notice.Text, fresh) {
				t.Error("the notice's HTML lacks the reset link, or the mail holds the password")
			}
			// Revocation runs before the mail is queued: it is done now.
			for _, st := range s.Sites {
				if e := b.silent(st, nil); e != "login_required" {
					t.Errorf("silent sign-in on %s after the reset: %q, want login_required", st.ClientID, e)
				}
			}
			for i, rt := range refresh {
				a := s.token(t, s.Sites[i], url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, true)
				if a.status != http.StatusBadRequest || a.body["error"] != "invalid_grant" {
					t.Errorf("refresh token of site%d after the reset: %d %v", i+1, a.status, a.body)
				}
			}
			if !binds(t, s, u.UID, fresh) || !s.Second.Binds(t, u.UID, fresh) {
				t.Error("the new password does not work in both directories")
			}
			sub := subjectOf(t, tokens[2])
			if !strings.Contains(s.Logs.String(), `"audit":"reset.written","sub":"`+sub+`"`) {
				t.Error("no audit event reset.written with the subject")
			}

			t.Run("the same event delivered again changes nothing", func(t *testing.T) {
				redeliver(t, s)
				time.Sleep(300 * time.Millisecond) // a second mail would be queued by now; give the sender time too
				if n := len(s.SMTP.Messages()); n != 2 {
					t.Errorf("%d mails after the copy, want 2", n)
				}
				if strings.Count(s.Logs.String(), `"audit":"reset.written"`) != 1 {
					t.Error("the copy was audited again")
				}
			})

			t.Run("logs hold no password, code or token", func(t *testing.T) {
				logs := s.Logs.String()
				token := mailed.Link[strings.Index(mailed.Link, "t=")+2:]
				secrets := map[string]string{"new password": fresh, "old password": u.Password, "code": mailed.Code, "link token": token}
				for i, tok := range tokens {
					secrets["token "+string(rune('0'+i))] = tok
				}
				for what, v := range secrets {
					if strings.Contains(logs, v) {
						t.Errorf("the logs contain the %s", what)
					}
				}
				for line := range strings.SplitSeq(logs, "\n") {
					if strings.Contains(line, "completion:") && strings.Contains(line, u.Mail) {
						t.Errorf("a completion record names the address: %s", line)
					}
				}
			})
		})
	}
}

// redeliver appends a copy of the last settled event to the stream and
// waits until the consumer acknowledged it as handled already.
func redeliver(t *testing.T, s *stack) {
	t.Helper()
	ctx := t.Context()
	rdb := s.Redis.Client(t)
	stream := job.NewQueue(job.Options{Client: rdb, Prefix: s.cfg.Redis.KeyPrefix}).EventsStream()
	last, err := rdb.XRevRangeN(ctx, stream, "+", "-", 1).Result()
	if err != nil || len(last) != 1 {
		t.Fatalf("no event in %s: %v", stream, err)
	}
	id, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: last[0].Values}).Result()
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		return strings.Contains(s.Logs.String(), `"msg":"completion: event handled already, acknowledged","entry":"`+id+`"`),
			"the copy " + id + " was never acknowledged as handled already"
	})
}
