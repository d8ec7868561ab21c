package reset_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
	"github.com/region-nouvelle-aquitaine/idp/idp/reset"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
)

// oneAccount knows one address, jeanne's.
type oneAccount struct{}

const jeanne = "jeanne@example.org"

func (oneAccount) FindByMail(_ context.Context, mail string) (ldapauth.User, bool, error) {
	if !strings.EqualFold(mail, jeanne) {
		return ldapauth.User{}, false, nil
	}
	return ldapauth.User{Subject: "sub-jeanne", Username: "jeanne", Email: jeanne}, true, nil
}

// deviceCookie stands for login.Devices: the cookie "device" holds
// "<id>:<subject>" for a browser that subject signed in with.
type deviceCookie struct{}

func (deviceCookie) Present(r *http.Request) bool {
	c, err := r.Cookie("device")
	return err == nil && c.Value != ""
}

func (deviceCookie) Known(r *http.Request, subject string) (string, bool) {
	c, err := r.Cookie("device")
	if err != nil {
		return "", false
	}
	id, sub, _ := strings.Cut(c.Value, ":")
	return id, sub == subject
}

type sentMails struct {
	mu sync.Mutex
	to []string
}

func (s *sentMails) Enqueue(_ context.Context, m reset.Mail) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.to = append(s.to, m.To)
	return nil
}

func (s *sentMails) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.to)
}

// TestDeviceBudget: once the address's mails of the day are spent (by a
// stranger, say), a code still goes out to a browser the person signed
// in with, within that browser's own budget; never to another browser,
// whatever device cookie it holds, and never for an address without an
// account.
func TestDeviceBudget(t *testing.T) {
	tests := []struct {
		name    string
		address string
		device  string // the browsers' device cookies: "<id>:<subject>", "|" between browsers, or none
		asks    int    // requests after the address's day is spent
		want    int    // mails they send
	}{
		{"no device cookie", jeanne, "", 1, 0},
		{"a device cookie of another person", jeanne, "d1:sub-other", 1, 0},
		{"the person's browser", jeanne, "d1:sub-jeanne", 1, 1},
		{"the person's browser, within its own short window", jeanne, "d1:sub-jeanne", 4, 3},
		// Every sign-in makes a token: whoever knows the password must not
		// multiply the owner's mails with many of them.
		{"two of the person's browsers, one budget", jeanne, "d1:sub-jeanne|d2:sub-jeanne", 4, 3},
		{"an address without an account", "personne@example.org", "d1:sub-jeanne", 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mails := &sentMails{}
			l := reset.DefaultLimits
			l.IPRequests = 1000 // one test address asks them all
			f := newFixtureWith(t, start, func(cfg *reset.Config) {
				cfg.Accounts, cfg.Outbox, cfg.Devices, cfg.Limits = oneAccount{}, mails, deviceCookie{}, l
				cfg.Compose = func(context.Context, string, string, time.Duration) (string, string, string, error) {
					return "s", "t", "h", nil
				}
			})
			h, st, clock := f.h, f.st, f.clock
			ask := func(device string) {
				t.Helper()
				now := clock.Now()
				fl := &store.ResetFlow{ID: store.NewID(), CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute)}
				if err := st.SaveResetFlow(t.Context(), fl); err != nil {
					t.Fatal(err)
				}
				req := httptest.NewRequest(http.MethodPost, "/mot-de-passe-perdu/adresse",
					strings.NewReader(url.Values{"csrf_token": {"t"}, "email": {tc.address}}.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.AddCookie(&http.Cookie{Name: "idp_reset", Value: fl.ID})
				if device != "" {
					req.AddCookie(&http.Cookie{Name: "device", Value: device})
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				h.Wait()
				if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/mot-de-passe-perdu/code" {
					t.Fatalf("address step: %d %q", w.Code, w.Header().Get("Location"))
				}
			}
			// The day's ten, three per quarter of an hour, from browsers
			// without a device cookie.
			for i := range l.DayMails {
				ask("")
				if i%l.ShortMails == l.ShortMails-1 {
					clock.Advance(l.ShortWindow)
				}
			}
			clock.Advance(l.ShortWindow)
			before := mails.count()
			if tc.address == jeanne && before != l.DayMails {
				t.Fatalf("%d mails for the day, want %d", before, l.DayMails)
			}
			devices := strings.Split(tc.device, "|")
			for i := range tc.asks {
				ask(devices[i%len(devices)])
			}
			if got := mails.count() - before; got != tc.want {
				t.Errorf("%d mails after the address's day was spent, want %d", got, tc.want)
			}
		})
	}
}
