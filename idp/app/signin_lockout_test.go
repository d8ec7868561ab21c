package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// lockOut makes ten wrong attempts for identifier from a stranger's jar,
// waiting out the delays on the fake clock, as an attacker would.
func lockOut(t *testing.T, s *stack, identifier string) {
	t.Helper()
	stranger := newBrowserless(t, s)
	loginURL, _ := stranger.authorize(s.Sites[0], nil)
	for i := 1; i <= 10; i++ {
		readAll(t, stranger.login(loginURL, identifier, fmt.Sprintf("Guess-%d", i)))
		if i >= 5 {
			s.Clock.Advance(time.Minute)
		}
	}
	body := readAll(t, stranger.login(loginURL, identifier, "Guess-11"))
	if !strings.Contains(body, "suspendue") {
		t.Fatalf("%s not locked after ten failures:\n%s", identifier, body)
	}
}

// TestThrottleUnlockedByReset: a stranger locks the account; its owner
// sets a new password through « Mot de passe perdu »; once the change is
// written, the owner signs in with it from a new browser at once.
func TestThrottleUnlockedByReset(t *testing.T) {
	s := startStackWith(t, stackOptions{Config: withThrottle})
	u := testenv.Users()[1]
	lockOut(t, s, u.UID)

	const fresh = "Un nouveau mot de passe bien long"
	r := verifiedReset(t, s, u.Mail)
	if loc, body := r.setPassword(fresh, fresh); !strings.Contains(body, "Votre mot de passe a été modifié") {
		t.Fatalf("reset did not settle: %s", loc)
	}
	// The web tier learns that the change is written asynchronously: give
	// it a few seconds (real time; the fake clock does not move).
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		b := newBrowserless(t, s)
		loginURL, _ := b.authorize(s.Sites[0], nil)
		resp := b.login(loginURL, u.UID, fresh)
		last := readAll(t, resp)
		return resp.StatusCode == http.StatusSeeOther, "still refused after the reset:\n" + last
	})
}

// TestThrottleLockDoesNotNameOtherIdentifier: locking an account through
// its uid must not change how its mail address answers: exactly like the
// address of nobody.
func TestThrottleLockDoesNotNameOtherIdentifier(t *testing.T) {
	s := startStackWith(t, stackOptions{Config: withThrottle})
	u := testenv.Users()[0]
	lockOut(t, s, u.UID)

	known, unknown := newBrowserless(t, s), newBrowserless(t, s)
	knownURL, _ := known.authorize(s.Sites[0], nil)
	unknownURL, _ := unknown.authorize(s.Sites[0], nil)
	for i := 1; i <= 3; i++ {
		k := shapeOf(t, known.login(knownURL, u.Mail, fmt.Sprintf("Wrong-%d", i)), u.Mail)
		n := shapeOf(t, unknown.login(unknownURL, "nobody.here@example.org", fmt.Sprintf("Wrong-%d", i)), "nobody.here@example.org")
		if k != n {
			t.Fatalf("attempt %d: the mail of the locked account answers unlike an unknown address:\n%d %s\n---\n%d %s", i, k.status, k.body, n.status, n.body)
		}
	}
}

// forgetSession drops the browser's session cookie, as after closing it
// or signing out, and keeps the rest of its jar.
func forgetSession(t *testing.T, b *browserless) {
	t.Helper()
	u, _ := url.Parse(b.s.Issuer)
	for _, c := range b.client.Jar.Cookies(u) {
		if strings.Contains(c.Name, "session") {
			b.client.Jar.SetCookies(u, []*http.Cookie{{Name: c.Name, Path: "/", MaxAge: -1}})
		}
	}
}

// TestThrottleKnownBrowserNotHeldByStrangers: a stranger locks the
// account; the browser its owner signed in with before still signs in,
// while any other browser is held back. The owner's own failures can lock
// that browser out.
func TestThrottleKnownBrowserNotHeldByStrangers(t *testing.T) {
	s := startStackWith(t, stackOptions{Config: withThrottle})
	st, u := s.Sites[0], testenv.Users()[0]
	owner := newBrowserless(t, s)
	if code, _ := owner.code(st, nil); code == "" {
		t.Fatal("first sign-in failed")
	}
	forgetSession(t, owner)

	lockOut(t, s, u.UID)
	other := newBrowserless(t, s)
	otherURL, _ := other.authorize(st, nil)
	if resp := other.login(otherURL, u.UID, u.Password); resp.StatusCode == http.StatusSeeOther {
		t.Fatal("a new browser signed in through the lock")
	}
	ownerURL, _ := owner.authorize(st, nil)
	resp := owner.login(ownerURL, u.UID, u.Password)
	if body := readAll(t, resp); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the owner's browser is held back by a stranger's failures: %d\n%s", resp.StatusCode, body)
	}
	forgetSession(t, owner)

	ownerURL, _ = owner.authorize(st, nil)
	for i := 1; i <= 10; i++ {
		readAll(t, owner.login(ownerURL, u.UID, fmt.Sprintf("Typo-%d", i)))
		if i >= 5 {
			s.Clock.Advance(time.Minute)
		}
	}
	if body := readAll(t, owner.login(ownerURL, u.UID, u.Password)); !strings.Contains(body, "suspendue") {
		t.Fatalf("ten failures from the known browser did not lock it:\n%s", body)
	}
}

// TestThrottleDeviceEndsWithRevocation: a browser that signed in before the
// person's sessions were revoked (a new password; perhaps an intruder who
// knew the old one) no longer has a budget of its own: the lock strangers
// set applies to it like to any browser.
func TestThrottleDeviceEndsWithRevocation(t *testing.T) {
	s := startStackWith(t, stackOptions{Config: withThrottle})
	st, u := s.Sites[0], testenv.Users()[0]
	ctx := context.Background()
	st0 := s.records(t)

	intruder, tok := signedIn(t, s, st, nil)
	idt, err := verifyID(s, st, tok["id_token"].(string))
	if err != nil {
		t.Fatal(err)
	}
	forgetSession(t, intruder)
	s.Clock.Advance(time.Second)
	// As the completion consumer does once a new password is written.
	if err := st0.RevokeSubject(ctx, idt.Subject, ""); err != nil {
		t.Fatal(err)
	}
	s.Clock.Advance(time.Second)

	lockOut(t, s, u.UID)
	loginURL, _ := intruder.authorize(st, nil)
	if body := readAll(t, intruder.login(loginURL, u.UID, "Another-Guess-1")); !strings.Contains(body, "suspendue") {
		t.Fatalf("a browser from before the revocation is not held back by the lock:\n%s", body)
	}
}

// TestThrottleForgottenBySuccess: a right password ends the failures in a
// row, both the identifier's and the person's, whatever comes next: a
// sign-in with its code, a grace login, an expired password to replace.
// Four typos then the right password, round after round, each from a new
// browser: were the count kept, the second round would already be held
// back (delays start after five failures).
func TestThrottleForgottenBySuccess(t *testing.T) {
	s := startStackWith(t, stackOptions{Slapd: stateAccounts(), Config: withThrottle})
	for _, tc := range []struct {
		name   string
		u      testenv.User
		rounds int
		right  func(resp *http.Response, body string) bool // the right password's answer
	}{
		{"sign-in", testenv.Users()[2], 3, func(resp *http.Response, _ string) bool {
			return resp.StatusCode == http.StatusSeeOther
		}},
		{"grace login", person("grace"), 2, func(resp *http.Response, body string) bool {
			return resp.StatusCode == http.StatusOK && strings.Contains(body, "connexion avec ce mot de passe")
		}},
		{"expired password", person("expired"), 2, func(resp *http.Response, _ string) bool {
			return resp.StatusCode == http.StatusSeeOther && resp.Header.Get("Location") == "/mot-de-passe-perdu/nouveau"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for round := 1; round <= tc.rounds; round++ {
				b := newBrowserless(t, s)
				loginURL, _ := b.authorize(s.Sites[0], nil)
				for i := 1; i <= 4; i++ {
					body := readAll(t, b.login(loginURL, tc.u.UID, fmt.Sprintf("Typo-%d-%d", round, i)))
					if strings.Contains(body, "suspendue") || strings.Contains(body, "patientez") {
						t.Fatalf("round %d, typo %d: held back although every earlier round ended with the right password:\n%s", round, i, body)
					}
				}
				resp := b.login(loginURL, tc.u.UID, tc.u.Password)
				if body := readAll(t, resp); !tc.right(resp, body) {
					t.Fatalf("round %d: the right password after four typos was refused: %d\n%s", round, resp.StatusCode, body)
				}
			}
		})
	}
}
