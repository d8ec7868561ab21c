package app_test

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// resetMail is a captured code mail, decoded.
type resetMail struct {
	To, Subject, FromName, FromAddr string
	Text, HTML                      string
	Code, Link                      string
	Header                          mail.Header
}

var (
	// The code stands alone on its line: matched anywhere, it was found now
	// and then inside the link's random token, which comes first.
	codeInMail = regexp.MustCompile(`(?m)^[ \t]*([A-HJ-NP-Z2-9]{6})[ \t]*\r?$`)
	linkInMail = regexp.MustCompile(`https?://[^\s"<>]+/mot-de-passe-perdu/lien\?t=[A-Za-z0-9_-]+`)
)

func parseResetMail(t *testing.T, m testenv.Message) resetMail {
	t.Helper()
	if len(m.To) != 1 {
		t.Fatalf("mail to %v, want exactly one recipient", m.To)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	dec := new(mime.WordDecoder)
	subject, _ := dec.DecodeHeader(msg.Header.Get("Subject"))
	from, err := mail.ParseAddress(msg.Header.Get("From"))
	if err != nil {
		t.Fatalf("From %q: %v", msg.Header.Get("From"), err)
	}
	r := resetMail{To: m.To[0], Subject: subject, FromName: from.Name, FromAddr: from.Address, Header: msg.Header}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q, want multipart/alternative", msg.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(p)
		if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			// multipart.Reader decodes quoted-printable itself.
			_ = body
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch ct {
		case "text/plain":
			r.Text = string(body)
		case "text/html":
			r.HTML = string(body)
		}
	}
	if m := codeInMail.FindStringSubmatch(r.Text); m != nil {
		r.Code = m[1]
	}
	r.Link = linkInMail.FindString(r.Text)
	return r
}

// resetClient drives the journey with a plain HTTP client.
type resetClient struct {
	*browserless
}

// formToken loads a page and returns its form token and body.
func (b *browserless) formToken(path string) (string, string) {
	b.t.Helper()
	resp := b.get(b.s.Issuer + path)
	body := readAll(b.t, resp)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		return "", body
	}
	return m[1], body
}

func (b *browserless) post(path string, form url.Values, header http.Header) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.s.Issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	if req.Header.Get("Host") != "" {
		req.Host = req.Header.Get("Host")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp, readAll(b.t, resp)
}

// start chooses « usager » and lands on the address form.
func (r resetClient) start() {
	r.t.Helper()
	tok, _ := r.formToken("/mot-de-passe-perdu")
	resp, _ := r.post("/mot-de-passe-perdu", url.Values{"csrf_token": {tok}, "profil": {"usager"}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/mot-de-passe-perdu/adresse" {
		r.t.Fatalf("profile: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// email submits an address form (raw, so tests can send anything) and
// returns the page shown after it.
func (r resetClient) email(form url.Values, header http.Header) (int, string) {
	r.t.Helper()
	tok, _ := r.formToken("/mot-de-passe-perdu/adresse")
	form.Set("csrf_token", tok)
	resp, body := r.post("/mot-de-passe-perdu/adresse", form, header)
	if resp.StatusCode == http.StatusSeeOther {
		page := r.get(r.s.Issuer + resp.Header.Get("Location"))
		return page.StatusCode, readAll(r.t, page)
	}
	return resp.StatusCode, body
}

func (r resetClient) code(code string) (string, string) {
	r.t.Helper()
	tok, _ := r.formToken("/mot-de-passe-perdu/code")
	resp, body := r.post("/mot-de-passe-perdu/code", url.Values{"csrf_token": {tok}, "code": {code}}, nil)
	return resp.Header.Get("Location"), body
}

// sameAnswer strips what differs by design (form tokens) before comparing.
var formTokens = regexp.MustCompile(`name="csrf_token" value="[^"]*"`)

func stripTokens(s string) string { return formTokens.ReplaceAllString(s, "") }

func TestResetRequests(t *testing.T) {
	s := startStack(t)
	u := testenv.Users()[0]

	t.Run("known and unknown address: same answer, one mail to the stored address", func(t *testing.T) {
		known := resetClient{newBrowserless(t, s)}
		known.start()
		st1, page1 := known.email(url.Values{"email": {strings.ToUpper(u.Mail)}}, nil)
		unknown := resetClient{newBrowserless(t, s)}
		unknown.start()
		st2, page2 := unknown.email(url.Values{"email": {"personne@example.org"}}, nil)
		if st1 != st2 || stripTokens(page1) != stripTokens(page2) {
			t.Fatalf("pages differ: %d vs %d", st1, st2)
		}
		if !strings.Contains(page1, "Code de sécurité – Mot de passe perdu") {
			t.Fatal("not the code page")
		}
		msgs := s.SMTP.WaitForMessages(t, 1, 10*time.Second)
		time.Sleep(300 * time.Millisecond) // give a wrong second mail time to show up
		if n := len(s.SMTP.Messages()); n != 1 {
			t.Fatalf("%d mails, want 1", n)
		}
		m := parseResetMail(t, msgs[0])
		if m.To != u.Mail {
			t.Errorf("mail to %q, want the directory's %q", m.To, u.Mail)
		}
		if m.Subject != string(codeMail) || m.FromName != "Région Nouvelle-Aquitaine" || m.FromAddr != "noreply@motdepasse.nouvelle-aquitaine.fr" {
			t.Errorf("subject %q from %q <%s>", m.Subject, m.FromName, m.FromAddr)
		}
		if m.Code == "" || !strings.HasPrefix(m.Link, s.Issuer+"/mot-de-passe-perdu/lien?t=") {
			t.Errorf("code %q link %q", m.Code, m.Link)
		}
		if !strings.Contains(m.HTML, m.Code) || !strings.Contains(m.HTML, strings.ReplaceAll(m.Link, "&", "&amp;")) || !strings.Contains(m.HTML, `lang="fr"`) {
			t.Error("the HTML part lacks the code, the link or lang=fr")
		}
	})
}

// mailKind tells the provider's two mails apart, by their subject.
type mailKind string

const (
	codeMail   mailKind = "Validation du changement de mot de passe" // the security code and its link
	noticeMail mailKind = "Votre mot de passe a été modifié"         // a password was changed
)

// mailAfter waits for the first mail of kind among those after the sink's
// first n, and fails unless it went to addr (and, for a code mail, carries
// the code and the link). Mails of the other kind are passed over: the
// notice of a change is mailed after the change settles, so a notice of an
// earlier step can arrive after n was counted, before the mail awaited.
func mailAfter(t *testing.T, s *stack, n int, addr string, kind mailKind) resetMail {
	t.Helper()
	var m resetMail
	testenv.Eventually(t, 15*time.Second, func() (bool, string) {
		msgs := s.SMTP.Messages()[n:]
		for _, msg := range msgs {
			if m = parseResetMail(t, msg); m.Subject == string(kind) {
				return true, ""
			}
		}
		return false, fmt.Sprintf("no mail %q among the %d after the first %d", kind, len(msgs), n)
	})
	if m.To != addr {
		t.Fatalf("mail %q to %q, want it to %q", kind, m.To, addr)
	}
	if kind == codeMail && (m.Code == "" || m.Link == "") {
		t.Fatalf("code mail with code %q and link %q", m.Code, m.Link)
	}
	return m
}

// mailsTo returns the mails the sink holds for addr, oldest first.
func mailsTo(s *stack, addr string) []testenv.Message {
	var out []testenv.Message
	for _, m := range s.SMTP.Messages() {
		if len(m.To) == 1 && m.To[0] == addr {
			out = append(out, m)
		}
	}
	return out
}

// waitMailTo waits until the sink holds n mails for addr and returns the
// n-th. Counting one recipient's mails, rather than all of them, keeps a test
// blind to mails that other tests of the same stack are still sending.
func waitMailTo(t *testing.T, s *stack, addr string, n int) resetMail {
	t.Helper()
	var got []testenv.Message
	testenv.Eventually(t, 15*time.Second, func() (bool, string) {
		got = mailsTo(s, addr)
		return len(got) >= n, fmt.Sprintf("%d mails to %s, want %d", len(got), addr, n)
	})
	return parseResetMail(t, got[n-1])
}

// TestResetAbuse's subtests share one stack but nothing else: each has its
// own person in the directory, its own browsers and its own typed addresses,
// and starts an hour later than anything before it, past the per-IP window
// that all of them share (every request comes from 127.0.0.1). So each runs
// alone (-run 'TestResetAbuse/<name>') or in any order.
func TestResetAbuse(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, s *stack, u testenv.User)
	}{
		{"a burst of four requests: three mails, the same page with a cooldown", func(t *testing.T, s *stack, u testenv.User) {
			var pages []string
			for range 4 {
				r := resetClient{newBrowserless(t, s)}
				r.start()
				_, page := r.email(url.Values{"email": {u.Mail}}, nil)
				pages = append(pages, page)
			}
			waitMailTo(t, s, u.Mail, 3)
			time.Sleep(300 * time.Millisecond) // give a wrong fourth mail time to show up
			if n := len(mailsTo(s, u.Mail)); n != 3 {
				t.Fatalf("%d mails, want 3", n)
			}
			if !strings.Contains(pages[3], "Code de sécurité – Mot de passe perdu") || !strings.Contains(pages[3], "Vous pourrez demander un nouveau code dans") {
				t.Error("the fourth page is not the code page with the cooldown")
			}
			if strings.Contains(pages[0], "Vous pourrez demander un nouveau code dans") {
				t.Error("the first page already shows a cooldown")
			}
		}},

		{"six wrong codes: the sixth is refused even if right", func(t *testing.T, s *stack, u testenv.User) {
			r := resetClient{newBrowserless(t, s)}
			r.start()
			r.email(url.Values{"email": {u.Mail}}, nil)
			m := waitMailTo(t, s, u.Mail, 1)
			for i := range 5 {
				loc, body := r.code("ZZZZZZ")
				if loc != "" || !strings.Contains(body, "incorrect ou a expiré") {
					t.Fatalf("wrong code %d: Location %q", i+1, loc)
				}
			}
			loc, body := r.code(m.Code)
			if loc != "" || !strings.Contains(body, "n’est plus valable") {
				t.Fatalf("sixth try with the right code: Location %q", loc)
			}
		}},

		{"typed loosely, used once, then refused", func(t *testing.T, s *stack, u testenv.User) {
			r := resetClient{newBrowserless(t, s)}
			r.start()
			r.email(url.Values{"email": {u.Mail}}, nil)
			m := waitMailTo(t, s, u.Mail, 1)
			loose := strings.ToLower(m.Code[:3]) + " " + strings.ToLower(m.Code[3:4]) + "-" + m.Code[4:]
			if loc, _ := r.code(loose); loc != "/mot-de-passe-perdu/nouveau" {
				t.Fatalf("code %q typed as %q refused", m.Code, loose)
			}
			if loc, _ := r.code(m.Code); loc != "" {
				t.Fatal("the code worked twice")
			}
			// The link of the same mail died with the code.
			other := resetClient{newBrowserless(t, s)}
			resp := other.get(m.Link)
			resp.Body.Close()
			_, body := other.formToken("/mot-de-passe-perdu/lien")
			if !strings.Contains(body, "n’est plus valable") {
				t.Error("the link still works after the code was used")
			}
		}},

		{"expired code: a new one without retyping the address", func(t *testing.T, s *stack, u testenv.User) {
			r := resetClient{newBrowserless(t, s)}
			r.start()
			r.email(url.Values{"email": {u.Mail}}, nil)
			m := waitMailTo(t, s, u.Mail, 1)
			s.Clock.Advance(10*time.Minute + time.Second)
			loc, body := r.code(m.Code)
			if loc != "" || !strings.Contains(body, "n’est plus valable") || !strings.Contains(body, "Renvoyer un code") {
				t.Fatalf("expired code: Location %q", loc)
			}
			tok := csrfField.FindStringSubmatch(body)[1]
			resp, _ := r.post("/mot-de-passe-perdu/renvoyer", url.Values{"csrf_token": {tok}}, nil)
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("resend: %d", resp.StatusCode)
			}
			fresh := waitMailTo(t, s, u.Mail, 2)
			if fresh.To != u.Mail || fresh.Code == m.Code {
				t.Fatalf("resent mail to %q code %q", fresh.To, fresh.Code)
			}
			if loc, _ := r.code(fresh.Code); loc != "/mot-de-passe-perdu/nouveau" {
				t.Fatal("the resent code was refused")
			}
		}},

		{"a code only works in the browser that asked", func(t *testing.T, s *stack, u testenv.User) {
			a := resetClient{newBrowserless(t, s)}
			a.start()
			a.email(url.Values{"email": {u.Mail}}, nil)
			m := waitMailTo(t, s, u.Mail, 1)
			b := resetClient{newBrowserless(t, s)}
			b.start()
			b.email(url.Values{"email": {"personne." + u.UID + "@example.org"}}, nil)
			if loc, body := b.code(m.Code); loc != "" || !strings.Contains(body, "incorrect ou a expiré") {
				t.Fatalf("another browser used the code: Location %q", loc)
			}
		}},

		{"the link: GET and HEAD twice do not use it; then it works in another browser", func(t *testing.T, s *stack, u testenv.User) {
			a := resetClient{newBrowserless(t, s)}
			a.start()
			a.email(url.Values{"email": {u.Mail}}, nil)
			m := waitMailTo(t, s, u.Mail, 1)
			for range 2 {
				for _, method := range []string{http.MethodGet, http.MethodHead} {
					req, _ := http.NewRequest(method, m.Link, nil)
					resp, err := http.DefaultClient.Do(req) // follows to the page, like a scanner
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						t.Fatalf("%s link: %d", method, resp.StatusCode)
					}
				}
			}
			b := resetClient{newBrowserless(t, s)}
			resp := b.get(m.Link)
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/mot-de-passe-perdu/lien" {
				t.Fatalf("the token does not leave the address bar: %d %q", resp.StatusCode, resp.Header.Get("Location"))
			}
			tok, _ := b.formToken("/mot-de-passe-perdu/lien")
			if tok == "" {
				t.Fatal("no « Continuer » form on the link page")
			}
			r, _ := b.post("/mot-de-passe-perdu/lien", url.Values{"csrf_token": {tok}}, nil)
			if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/mot-de-passe-perdu/nouveau" {
				t.Fatalf("using the link: %d %q", r.StatusCode, r.Header.Get("Location"))
			}
			// That browser now carries the flow on: the new-password page.
			next := b.get(s.Issuer + "/mot-de-passe-perdu/nouveau")
			if body := readAll(t, next); next.StatusCode != http.StatusOK || !strings.Contains(body, "Nouveau mot de passe") {
				t.Errorf("the other browser does not reach the new-password page: %d", next.StatusCode)
			}
			// Used once only.
			again := resetClient{newBrowserless(t, s)}
			again.get(m.Link).Body.Close()
			if tok, _ := again.formToken("/mot-de-passe-perdu/lien"); tok != "" {
				t.Error("the link works twice")
			}
		}},

		{"Host and X-Forwarded-Host do not change the link", func(t *testing.T, s *stack, u testenv.User) {
			r := resetClient{newBrowserless(t, s)}
			r.start()
			r.email(url.Values{"email": {u.Mail}}, http.Header{"X-Forwarded-Host": {"evil.example"}, "Forwarded": {"host=evil.example"}, "X-Forwarded-Proto": {"https"}})
			if m := waitMailTo(t, s, u.Mail, 1); !strings.HasPrefix(m.Link, s.Issuer+"/") {
				t.Fatalf("link %q", m.Link)
			}
		}},

		{"injected addresses: at most one recipient, the stored one", func(t *testing.T, s *stack, u testenv.User) {
			before := len(s.SMTP.Messages())
			for _, form := range []url.Values{
				{"email": {u.Mail, "attacker@evil.example"}},
				{"email": {u.Mail + "\r\nBcc: attacker@evil.example"}},
				{"email": {"*)(mail=*"}},
				{"email": {"*@example.org"}},
				{"email": {u.Mail + "\x00"}},
				{"email": {strings.Repeat("a", 250) + "@example.org"}},
			} {
				r := resetClient{newBrowserless(t, s)}
				r.start()
				r.email(form, nil)
			}
			time.Sleep(500 * time.Millisecond) // give wrong mails time to show up
			// Every mail since before counts: no subtest leaves one in flight.
			for _, m := range s.SMTP.Messages()[before:] {
				if len(m.To) != 1 || m.To[0] != u.Mail {
					t.Errorf("mail to %v", m.To)
				}
			}
			if n := len(s.SMTP.Messages()) - before; n > 0 {
				t.Errorf("%d mails for injected addresses", n)
			}
		}},

		{"no code, link token or typed address in the logs", func(t *testing.T, s *stack, u testenv.User) {
			// A mail sent, a wrong code, a link opened, an unknown address
			// typed: everything that could leak gets logged about.
			r := resetClient{newBrowserless(t, s)}
			r.start()
			r.email(url.Values{"email": {u.Mail}}, nil)
			m := waitMailTo(t, s, u.Mail, 1)
			if loc, _ := r.code("ZZZZZZ"); loc != "" {
				t.Fatalf("a wrong code was taken: Location %q", loc)
			}
			r.get(m.Link).Body.Close()
			unknown := resetClient{newBrowserless(t, s)}
			unknown.start()
			unknown.email(url.Values{"email": {"attacker@evil.example"}}, nil)

			logs := s.Logs.String()
			if !strings.Contains(logs, `"audit":"reset.mailed"`) || !strings.Contains(logs, `"audit":"reset.code_refused"`) {
				t.Error("the reset audit events are missing")
			}
			// Every mail the stack sent, this subtest's and any other's.
			for _, msg := range s.SMTP.Messages() {
				m := parseResetMail(t, msg)
				token := m.Link[strings.Index(m.Link, "t=")+2:]
				if strings.Contains(logs, m.Code) || strings.Contains(logs, token) {
					t.Fatalf("a code or a link token is in the logs")
				}
			}
			if strings.Contains(logs, u.Mail) || strings.Contains(logs, "attacker@evil.example") {
				t.Error("an address is in the logs")
			}
		}},

		{"SMTP down: the page does not wait, the mail comes later", func(t *testing.T, s *stack, u testenv.User) {
			s.SMTP.Stop(t)
			defer s.SMTP.Start(t) // for the next subtests, should this one fail early
			r := resetClient{newBrowserless(t, s)}
			r.start()
			start := time.Now()
			status, page := r.email(url.Values{"email": {u.Mail}}, nil)
			if status != http.StatusOK || !strings.Contains(page, "Code de sécurité – Mot de passe perdu") || time.Since(start) > 2*time.Second {
				t.Fatalf("page %d after %v", status, time.Since(start))
			}
			time.Sleep(time.Second) // give the sender time to try the relay
			if n := len(mailsTo(s, u.Mail)); n != 0 {
				t.Fatalf("%d mails arrived while the relay was down", n)
			}
			s.SMTP.Start(t)
			waitMailTo(t, s, u.Mail, 1)
		}},

		{"a stranger spends the address's mails of the day: the owner's own browser still gets a code", func(t *testing.T, s *stack, u testenv.User) {
			signIn := func(b *browserless, who testenv.User) {
				t.Helper()
				loginURL, _ := b.authorize(s.Sites[0], nil)
				resp := b.login(loginURL, who.UID, who.Password)
				resp.Body.Close()
				if resp.StatusCode != http.StatusSeeOther {
					t.Fatalf("sign-in of %s: %d", who.UID, resp.StatusCode)
				}
			}
			owner := newBrowserless(t, s)
			signIn(owner, u) // a browser the owner signed in with: a device cookie
			// The stranger holds a device cookie too, for an account of
			// their own: it must not open the owner's budget.
			stranger := newBrowserless(t, s)
			signIn(stranger, testenv.Users()[1])
			ask := func(b *browserless) resetClient {
				r := resetClient{b}
				r.start()
				r.email(url.Values{"email": {u.Mail}}, nil)
				return r
			}
			// Ten flows from strangers' browsers (a new flow ends the
			// browser's previous one), three per quarter of an hour, each
			// with a wrong code typed while it lives: the day's mails are
			// spent, and the tenth wrong code suspends the address's and the
			// person's codes for an hour.
			var flows []resetClient
			for i := range 10 {
				flows = append(flows, ask(newBrowserless(t, s)))
				if i%3 != 2 && i != 9 {
					continue
				}
				waitMailTo(t, s, u.Mail, i+1)
				for j := i - i%3; j <= i; j++ {
					if _, body := flows[j].code("ZZZZZZ"); !strings.Contains(body, "incorrect ou a expiré") {
						t.Fatalf("wrong code %d: %.300s", j+1, body)
					}
				}
				if i != 9 {
					s.Clock.Advance(16 * time.Minute) // past the short window
				}
			}
			if _, body := flows[9].code("ZZZZZZ"); !strings.Contains(body, "Trop de codes incorrects") {
				t.Fatalf("the eleventh wrong code is not suspended: %.300s", body)
			}
			s.Clock.Advance(16 * time.Minute)
			ask(stranger)
			ask(newBrowserless(t, s))
			time.Sleep(300 * time.Millisecond) // give a wrong eleventh mail time to show up
			if n := len(mailsTo(s, u.Mail)); n != 10 {
				t.Fatalf("%d mails after the day's ten, want none more for strangers", n)
			}

			r := resetClient{owner}
			r.start()
			r.email(url.Values{"email": {u.Mail}}, nil)
			m := waitMailTo(t, s, u.Mail, 11)
			if loc, body := r.code(m.Code); loc != "/mot-de-passe-perdu/nouveau" {
				t.Fatalf("the owner's code was refused: %.300s", body)
			}
		}},

		{"a stranger's wrong codes suspend the address's codes: not in the owner's own browser", func(t *testing.T, s *stack, u testenv.User) {
			owner := newBrowserless(t, s)
			loginURL, _ := owner.authorize(s.Sites[0], nil)
			resp := owner.login(loginURL, u.UID, u.Password)
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign-in: %d", resp.StatusCode)
			}
			// Three codes asked by strangers, and ten wrong codes typed in
			// their flows: the address's and the person's codes are
			// suspended for an hour, with the day's mails far from spent.
			var flows []resetClient
			for range 3 {
				r := resetClient{newBrowserless(t, s)}
				r.start()
				r.email(url.Values{"email": {u.Mail}}, nil)
				flows = append(flows, r)
			}
			waitMailTo(t, s, u.Mail, 3)
			for i := range 10 {
				if _, body := flows[i%3].code("ZZZZZZ"); !strings.Contains(body, "incorrect ou a expiré") {
					t.Fatalf("wrong code %d: %.300s", i+1, body)
				}
			}
			if _, body := flows[0].code("ZZZZZZ"); !strings.Contains(body, "Trop de codes incorrects") {
				t.Fatalf("the eleventh wrong code is not suspended: %.300s", body)
			}
			s.Clock.Advance(16 * time.Minute) // past the short window
			r := resetClient{owner}
			r.start()
			r.email(url.Values{"email": {u.Mail}}, nil)
			m := waitMailTo(t, s, u.Mail, 4)
			if loc, body := r.code(m.Code); loc != "/mot-de-passe-perdu/nouveau" {
				t.Fatalf("the owner's code was refused: %.300s", body)
			}
		}},
	}

	// One person per subtest, seeded before the stack starts.
	people := make([]testenv.Account, len(tests))
	for i := range tests {
		uid := fmt.Sprintf("abus%d", i)
		people[i] = testenv.Account{User: testenv.User{
			UID: uid, Password: "Mot-de-passe-initial-" + uid, Mail: uid + "@example.org",
			GivenName: "Personne", Surname: fmt.Sprintf("Abus %d", i),
		}}
	}
	s := startStackWith(t, stackOptions{Slapd: testenv.SlapdOptions{Accounts: people}})
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Past the per-IP window of the subtests before, and past any
			// flow or code they left: a stack as fresh as a new one.
			s.Clock.Advance(time.Hour + time.Minute)
			tt.run(t, s, people[i].User)
		})
	}
}

// The whole journey in Chromium, from a site's sign-in to the verified
// code and back to the login screen of the same pending sign-in.
func TestResetJourney(t *testing.T) { overSchemes(t, testResetJourney) }

func testResetJourney(t *testing.T, https bool) {
	s := startStackWith(t, stackOptions{HTTPS: https})
	ctx := s.browser(t)
	rp := s.Sites[0]
	u := testenv.Users()[0]
	click := func(sel chromedp.Search) {
		t.Helper()
		if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Click(sel)); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Do(timeout(t, ctx), chromedp.Navigate(rp.URL+"/start"), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
		t.Fatal(err)
	}
	loginURL := pendingLogin(t, ctx)
	click(chromedp.Search(`//a[normalize-space()="Mot de passe perdu"]`))
	if h1 := heading(t, ctx); h1 != "Étape 2 sur 5 : Votre situation" {
		t.Fatalf("h1 %q", h1)
	}
	legend := text(t, ctx, "fieldset legend")
	if !strings.HasPrefix(legend, "Pour vous diriger vers le bon service, sélectionnez le cas qui vous concerne") {
		t.Errorf("legend %q", legend)
	}
	for _, label := range []string{"Je suis un usager des services de la Région", "Je suis un élu de la Région", "Je suis un agent des lycées", "Je suis un agent du siège", "J’ai besoin de support"} {
		if _, err := chromedp.Run(timeout(t, ctx), chromedp.Nodes(chromedp.Search(`//fieldset//label[normalize-space()="`+label+`"]`))); err != nil {
			t.Errorf("no choice %q: %v", label, err)
		}
	}
	if err := chromedp.Do(timeout(t, ctx), chromedp.Click(field("Je suis un usager des services de la Région"))); err != nil {
		t.Fatal(err)
	}
	click(button("Continuer"))
	if err := chromedp.Do(timeout(t, ctx), chromedp.SendKeys(field("Adresse électronique"), u.Mail)); err != nil {
		t.Fatal(err)
	}
	click(button("Recevoir un code"))
	if h1 := heading(t, ctx); h1 != "Étape 4 sur 5 : Code de sécurité" {
		t.Fatalf("h1 %q", h1)
	}
	m := mailAfter(t, s, 0, u.Mail, codeMail)
	pasted := m.Code[:4] + "-" + m.Code[4:]
	if err := chromedp.Do(timeout(t, ctx), chromedp.SendKeys(field("Code de sécurité"), pasted)); err != nil {
		t.Fatal(err)
	}
	click(button("Valider"))
	if h1 := heading(t, ctx); h1 != "Étape 5 sur 5 : Nouveau mot de passe" {
		t.Fatalf("after the code: h1 %q", h1)
	}
	// Nothing changed yet: the old password still signs in, on
	// the same pending sign-in.
	if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Navigate(loginURL)); err != nil {
		t.Fatal(err)
	}
	signIn(t, ctx, u.UID, u.Password)
	if loc := location(t, ctx); loc != rp.URL+"/" {
		t.Fatalf("after sign-in the browser is at %s", loc)
	}
}

func TestResetSteps(t *testing.T) {
	s := startStackWith(t, stackOptions{Config: func(c *config.Config) {
		c.Reset.EluURL = "https://elus.example/mdp"
		c.Reset.AgentLyceesURL = "" // not offered
		c.Reset.SupportURL = "https://support.example/"
	}})

	t.Run("profiles go where configuration says, never where the request says", func(t *testing.T) {
		b := resetClient{newBrowserless(t, s)}
		tok, page := b.formToken("/mot-de-passe-perdu?next=https://evil.example")
		if strings.Contains(page, "agent-lycees") {
			t.Error("a profile without a configured address is offered")
		}
		for _, c := range []struct{ profile, want string }{
			{"elu", "https://elus.example/mdp"},
			{"support", "https://support.example/"},
		} {
			resp, _ := b.post("/mot-de-passe-perdu?next=https://evil.example", url.Values{"csrf_token": {tok}, "profil": {c.profile}, "url": {"https://evil.example"}}, nil)
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != c.want {
				t.Errorf("%s: %d %q", c.profile, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
		for _, bad := range []url.Values{{"profil": {"https://evil.example"}}, {"profil": {"agent-lycees"}}, {}, {"profil": {"usager", "elu"}}} {
			bad.Set("csrf_token", tok)
			resp, body := b.post("/mot-de-passe-perdu", bad, nil)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" || !strings.Contains(body, "Sélectionnez le cas qui vous concerne") {
				t.Errorf("%v: %d %q", bad, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
	})

	t.Run("steps cannot be skipped", func(t *testing.T) {
		fresh := resetClient{newBrowserless(t, s)}
		for _, path := range []string{"/mot-de-passe-perdu/adresse", "/mot-de-passe-perdu/code", "/mot-de-passe-perdu/nouveau"} {
			resp := fresh.get(s.Issuer + path)
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/mot-de-passe-perdu" {
				t.Errorf("%s without a flow: %d %q", path, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
		half := resetClient{newBrowserless(t, s)}
		half.start()
		half.email(url.Values{"email": {testenv.Users()[1].Mail}}, nil)
		resp := half.get(s.Issuer + "/mot-de-passe-perdu/nouveau")
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/mot-de-passe-perdu/code" {
			t.Errorf("new password before the code: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("an expired flow starts again at the address", func(t *testing.T) {
		b := resetClient{newBrowserless(t, s)}
		b.start()
		s.Clock.Advance(16 * time.Minute)
		resp := b.get(s.Issuer + "/mot-de-passe-perdu/code")
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/mot-de-passe-perdu/adresse?expire=1" {
			t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		_, page := b.formToken("/mot-de-passe-perdu/adresse?expire=1")
		if !strings.Contains(page, "Votre demande précédente a expiré") {
			t.Error("the address page does not say why")
		}
	})
}

// TestCodeInMailSkipsTheLink: the link's random token sometimes holds six
// code-like characters between two hyphens; the code is the line that holds
// nothing else.
func TestCodeInMailSkipsTheLink(t *testing.T) {
	for _, text := range []string{
		"merci de cliquer ici :\r\nhttps://idp.test/mot-de-passe-perdu/lien?t=ABCDEF-x_y\r\n\r\nle code suivant :\r\n\r\nT3A8XQ\r\n\r\nCe code",
		"https://idp.test/mot-de-passe-perdu/lien?t=ab-K7M2PQ-cd\nT3A8XQ\n",
	} {
		if m := codeInMail.FindStringSubmatch(text); m == nil || m[1] != "T3A8XQ" {
			t.Errorf("code found in %q: %v, want T3A8XQ", text, m)
		}
	}
}
