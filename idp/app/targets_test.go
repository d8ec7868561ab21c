package app_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// waitPolicies waits until ldapsync has published n target policies.
func waitPolicies(t *testing.T, s *stack, n int) []job.TargetPolicy {
	t.Helper()
	q := job.NewQueue(job.Options{Client: s.redisClient(t), Prefix: s.cfg.Redis.KeyPrefix, Now: s.Clock.Now})
	var ps []job.TargetPolicy
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		var err error
		ps, err = q.Policies(t.Context())
		return err == nil && len(ps) == n, fmt.Sprintf("published policies: %+v, %v; want %d", ps, err, n)
	})
	return ps
}

// waiting posts a new password and returns the client on the waiting
// screen, checking that it stays there (the change cannot finish yet).
func waiting(t *testing.T, r resetClient, pw string) {
	t.Helper()
	tok, _ := r.formToken("/mot-de-passe-perdu/nouveau")
	resp, _ := r.post("/mot-de-passe-perdu/nouveau", url.Values{"csrf_token": {tok}, "password": {pw}, "confirmation": {pw}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/mot-de-passe-perdu/attente" {
		t.Fatalf("POST: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var body string
	for range 10 {
		page := r.get(r.s.Issuer + "/mot-de-passe-perdu/attente")
		body = readAll(t, page)
		if page.StatusCode != http.StatusOK {
			t.Fatalf("the waiting screen moved on to %q while a directory is down", page.Header.Get("Location"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The first directory is written, the second is not answering: the
	// page says both, truthfully, and so does the status its script reads.
	for _, want := range []string{
		`<p id="etat-lent">La messagerie des lycées ne répond pas pour le moment.`,
		"Votre nouveau mot de passe est déjà enregistré dans l’annuaire des usagers\u00a0; ailleurs, votre ancien mot de passe reste valable",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the waiting screen lacks %q:\n%s", want, body)
		}
	}
	status := readAll(t, r.get(r.s.Issuer+"/mot-de-passe-perdu/attente/etat"))
	if !strings.Contains(status, `"slow":true`) || !strings.Contains(status, "La messagerie des lycées ne répond pas") ||
		!strings.Contains(status, "déjà enregistré dans l’annuaire des usagers") {
		t.Errorf("the waiting status: %s", status)
	}
}

// TestTwoDirectories: ldapsync writes every change to the main directory
// and to a second one where people are found by mail. The second one's
// stricter policy is on the password page before anything is written; a
// stopped directory makes the waiting screen wait, and both are written
// once it is back; a refusal by the second after the first accepted is
// told plainly and raised to IT.
func TestTwoDirectories(t *testing.T) {
	s := startStackWith(t, stackOptions{Second: &testenv.SlapdOptions{MinLength: 16, InHistory: 3}})
	u := testenv.Users()[0]
	ps := waitPolicies(t, s, 2)
	if ps[0].Name != "annuaire" || ps[1].Name != "lycees" || ps[1].MinLength != 16 || ps[1].Label != "la messagerie des lycées" {
		t.Fatalf("published policies: %+v", ps)
	}

	const first = "Une phrase pour les deux annuaires"
	t.Run("the stricter policy is shown and checked before any write", func(t *testing.T) {
		r := verifiedReset(t, s, u.Mail)
		before := len(s.SMTP.Messages()) // up to the code: the notice comes later
		_, page := r.formToken("/mot-de-passe-perdu/nouveau")
		if !strings.Contains(page, "doit contenir au moins 16 caractères") {
			t.Fatalf("the page does not ask for the second directory's 16 characters:\n%s", page)
		}
		path, body := r.setPassword("Treize-chars!", "Treize-chars!") // 13: enough for the provider's 12
		if path != "/mot-de-passe-perdu/nouveau" || !strings.Contains(body, "trop court") || !strings.Contains(body, "il doit contenir au moins 16 caractères") {
			t.Fatalf("a 13-character password: %s\n%s", path, body)
		}
		if dump := dumpRedis(t, s); strings.Contains(dump, "{pwchange}:job:") || strings.Contains(dump, "{pwchange}:status:") {
			t.Error("a job was queued for a password the second directory refuses")
		}
		if path, body := r.setPassword(first, first); path != "/mot-de-passe-perdu/termine" || strings.Contains(body, "incomplet") {
			t.Fatalf("a good password: %s\n%s", path, body)
		}
		if !s.Slapd.Binds(t, u.UID, first) || !s.Second.Binds(t, u.UID, first) {
			t.Error("the new password is not in both directories")
		}
		mailAfter(t, s, before, u.Mail, noticeMail) // this change's notice
	})

	const second = "Une autre phrase pendant la panne"
	t.Run("second directory stopped: the waiting screen waits, both written when it is back", func(t *testing.T) {
		s.Second.Stop(t)
		r := verifiedReset(t, s, u.Mail)
		before := len(s.SMTP.Messages()) // up to the code: the notice comes later
		waiting(t, r, second)
		if !s.Slapd.Binds(t, u.UID, second) {
			t.Error("the first directory was not written while the second was down")
		}
		s.Second.Start(t)
		path := ""
		testenv.Eventually(t, 20*time.Second, func() (bool, string) {
			resp := r.get(s.Issuer + "/mot-de-passe-perdu/attente")
			resp.Body.Close()
			path = resp.Header.Get("Location")
			return resp.StatusCode == http.StatusSeeOther, fmt.Sprintf("the waiting screen still answers %d", resp.StatusCode)
		})
		if path != "/mot-de-passe-perdu/termine" {
			t.Fatalf("after the second directory came back: %q, want the success page", path)
		}
		if page := readAll(t, r.get(s.Issuer+path)); strings.Contains(page, "incomplet") {
			t.Errorf("a complete change reported as partial:\n%s", page)
		}
		if !s.Slapd.Binds(t, u.UID, second) || !s.Second.Binds(t, u.UID, second) {
			t.Error("the new password is not in both directories")
		}
		mailAfter(t, s, before, u.Mail, noticeMail) // this change's notice
	})

	t.Run("refused by the second after the first accepted: told, and IT alerted", func(t *testing.T) {
		// The second keeps a history, the first does not: setting the
		// current password again passes the first and not the second.
		r := verifiedReset(t, s, u.Mail)
		before := len(s.SMTP.Messages()) // up to the code: the notice comes later
		path, body := r.setPassword(second, second)
		if path != "/mot-de-passe-perdu/termine" || !strings.Contains(body, `id="incomplet"`) || !strings.Contains(body, "<li>la messagerie des lycées</li>") {
			t.Fatalf("partial change: %s\n%s", path, body)
		}
		mailAfter(t, s, before, u.Mail, noticeMail) // this change's notice
		recs := auditRecords(t, s)
		found := false
		for _, rec := range recs {
			if rec["audit"] == "reset.partial" && rec["targets"] == "lycees" && rec["level"] == "ERROR" {
				found = true
			}
		}
		if !found {
			t.Error("no reset.partial audit event at ERROR naming the second directory")
		}
	})
	t.Run("the partial success page passes axe", func(t *testing.T) {
		axe := testenv.LoadAxe(t)
		a := &a11y{t: t, axe: axe, ctx: testenv.Browser(t)}
		s.Clock.Advance(16 * time.Minute) // past the 3 mails per address in 15 min
		before := len(s.SMTP.Messages())
		r := resetClient{newBrowserless(t, s)}
		r.start()
		r.email(url.Values{"email": {u.Mail}}, nil)
		m := mailAfter(t, s, before, u.Mail, codeMail)
		a.navigate(t, m.Link) // the link works in any browser
		if err := chromedp.Do(timeout(t, a.ctx),
			chromedp.Click(button("Continuer")),
			chromedp.WaitVisible(field("Nouveau mot de passe")),
			chromedp.SendKeys(field("Nouveau mot de passe"), second),
			chromedp.SendKeys(field("Confirmer le nouveau mot de passe"), second),
			chromedp.Click(button("Valider")),
			chromedp.WaitVisible(chromedp.ID("incomplet")),
		); err != nil {
			t.Fatalf("no partial success page: %v (at %s)", err, location(t, a.ctx))
		}
		a.check(t, "success, partial", "Votre mot de passe a été modifié", "Mot de passe modifié – Mot de passe perdu"+siteTitle, true)
	})

	t.Run("logs and audit events hold no password, code or token", func(t *testing.T) {
		logs := s.Logs.String()
		secrets := map[string]string{"old password": u.Password, "first password": first, "second password": second, "refused password": "Treize-chars!"}
		for i, msg := range s.SMTP.Messages() {
			if m := parseResetMail(t, msg); m.Code != "" {
				secrets[fmt.Sprintf("code %d", i)] = m.Code
				secrets[fmt.Sprintf("link token %d", i)] = m.Link[strings.Index(m.Link, "t=")+2:]
			}
		}
		for what, v := range secrets {
			if strings.Contains(logs, v) {
				t.Errorf("the logs contain the %s", what)
			}
		}
		if len(secrets) < 8 {
			t.Errorf("only %d secrets looked for: the codes were not found in the mails", len(secrets))
		}
	})
}
