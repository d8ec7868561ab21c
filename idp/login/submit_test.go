package login

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/region-nouvelle-aquitaine/idp/idp/audit"
	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
	"github.com/region-nouvelle-aquitaine/idp/idp/provider"
	"github.com/region-nouvelle-aquitaine/idp/idp/reset"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/throttle"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
)

// calls records what the fakes were asked, in order; the reset of the
// failures after a right password runs alongside what follows it, so it
// is kept apart (succeeded).
type calls struct {
	mu        sync.Mutex
	seq       []string
	succeeded bool
}

func (c *calls) add(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s == "succeeded" {
		c.succeeded = true
		return
	}
	c.seq = append(c.seq, s)
}

// String is the sequence, with "succeeded" after "verify" when it came.
func (c *calls) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	seq := slices.Clone(c.seq)
	if i := slices.Index(seq, "verify"); c.succeeded && i >= 0 {
		seq = slices.Insert(seq, i+1, "succeeded")
	}
	return strings.Join(seq, " ")
}

type fakeDirectory struct {
	c         *calls
	findErr   error
	found     bool
	verify    ldapauth.Result
	verifyErr error
}

func (d *fakeDirectory) Find(_ context.Context, login string) (ldapauth.Candidate, error) {
	d.c.add("find")
	if d.findErr != nil || !d.found {
		return ldapauth.Candidate{}, d.findErr
	}
	return ldapauth.Candidate{User: ldapauth.User{DN: "uid=" + login, Subject: "uuid-" + login}}, nil
}

func (d *fakeDirectory) Verify(context.Context, ldapauth.Candidate, string) (ldapauth.Result, error) {
	d.c.add("verify")
	return d.verify, d.verifyErr
}

type fakeThrottle struct {
	c          *calls
	networkErr error
	attempt    throttle.Decision
	attemptErr error
	account    string
	ceiling    string
}

func (f *fakeThrottle) PrefetchNetwork(ctx context.Context, _ netip.Addr) context.Context { return ctx }

func (f *fakeThrottle) CheckNetwork(context.Context, netip.Addr) (throttle.Block, error) {
	f.c.add("network")
	return throttle.Block{}, f.networkErr
}

func (f *fakeThrottle) Attempt(_ context.Context, k throttle.Keys, _ netip.Addr) (throttle.Decision, error) {
	f.c.add("attempt")
	f.account, f.ceiling = k.Counter, k.Account
	return f.attempt, f.attemptErr
}

func (f *fakeThrottle) Succeeded(context.Context, throttle.Decision) error {
	f.c.add("succeeded")
	return nil
}

func (f *fakeThrottle) Failed(context.Context, throttle.Decision) error {
	f.c.add("failed")
	return nil
}

func (f *fakeThrottle) Cancel(context.Context, throttle.Decision) error {
	f.c.add("cancel")
	return nil
}

type fakeProvider struct{}

func (fakeProvider) AuthRequest(_ context.Context, id string) (*store.AuthRequest, error) {
	return &store.AuthRequest{ID: id, ClientID: "rp"}, nil
}
func (fakeProvider) Client(string) (*provider.Client, bool) { return nil, false }
func (fakeProvider) Complete(_ context.Context, ar *store.AuthRequest, _ provider.Identity) (*store.AuthRequest, error) {
	return ar, nil
}
func (fakeProvider) CodeURL(context.Context, *store.AuthRequest, provider.Identity, *store.Session, ...string) (string, error) {
	return "/callback", nil
}
func (fakeProvider) CallbackURL(context.Context, string) string { return "/callback" }
func (fakeProvider) FailAuthRequest(http.ResponseWriter, *http.Request, *store.AuthRequest, *oidc.Error) {
}

type anyForm struct{}

func (anyForm) Token(http.ResponseWriter, *http.Request, string) string { return "t" }
func (anyForm) Valid(*http.Request, string, string) bool                { return true }

// TestSubmitOrder: what is asked, in which order, for each outcome — the
// throttle before the bind, nothing after an outage, a failure taken back
// when the directory could not check the password.
func TestSubmitOrder(t *testing.T) {
	t.Parallel()
	down := errors.New("down")
	allowed := throttle.Decision{Allowed: true}
	locked := throttle.Decision{Block: throttle.Block{Kind: throttle.Lock, Until: time.Unix(1000+900, 0)}}
	tests := []struct {
		name       string
		dir        fakeDirectory
		thr        fakeThrottle
		wantCalls  string
		wantStatus int
		wantIn     string
	}{
		{"throttle down", fakeDirectory{}, fakeThrottle{networkErr: down}, "network", 503, "momentanément indisponible"},
		{"directory down at search", fakeDirectory{findErr: down}, fakeThrottle{}, "network find", 503, "momentanément indisponible"},
		{"throttle down at attempt", fakeDirectory{found: true}, fakeThrottle{attemptErr: down}, "network find attempt", 503, "momentanément indisponible"},
		{"locked: no bind", fakeDirectory{found: true}, fakeThrottle{attempt: locked}, "network find attempt", 200, "suspendue pendant 15"},
		{"directory down at bind", fakeDirectory{found: true, verifyErr: down}, fakeThrottle{attempt: allowed}, "network find attempt verify cancel", 503, "momentanément indisponible"},
		{"wrong password", fakeDirectory{found: true}, fakeThrottle{attempt: allowed}, "network find attempt verify failed", 200, "Identifiant ou mot de passe incorrect."},
		{"expired: the password was right", fakeDirectory{found: true, verify: ldapauth.Result{State: ldapauth.StateExpired}}, fakeThrottle{attempt: allowed}, "network find attempt verify succeeded begin:expired", 303, ""},
		{"must change: the password was right", fakeDirectory{found: true, verify: ldapauth.Result{State: ldapauth.StateMustChange}}, fakeThrottle{attempt: allowed}, "network find attempt verify succeeded begin:must_change", 303, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c calls
			tc.dir.c, tc.thr.c = &c, &c
			resp := submit(t, &tc.dir, &tc.thr, "jdupont")
			if got := c.String(); got != tc.wantCalls {
				t.Errorf("calls %q, want %q", got, tc.wantCalls)
			}
			if resp.status != tc.wantStatus || !strings.Contains(resp.body, tc.wantIn) {
				t.Errorf("%d, want %d with %q:\n%s", resp.status, tc.wantStatus, tc.wantIn, resp.body)
			}
		})
	}
}

// TestSubmitAccountKey: the throttle counts a hash of the typed
// identifier, never the text, the same whether the directory knows it or
// not; the person is named only as the silent ceiling.
func TestSubmitAccountKey(t *testing.T) {
	t.Parallel()
	for _, found := range []bool{true, false} {
		var c calls
		thr := &fakeThrottle{c: &c, attempt: throttle.Decision{Allowed: true}}
		submit(t, &fakeDirectory{c: &c, found: found}, thr, "JDupont")
		want, wantAccount := "id:"+audit.NewIdentifiers([]byte("k")).Hash("jdupont"), ""
		if found {
			wantAccount = "sub:uuid-JDupont"
		}
		if thr.account != want || thr.ceiling != wantAccount {
			t.Errorf("found=%v: counter %q ceiling %q, want %q and %q", found, thr.account, thr.ceiling, want, wantAccount)
		}
	}
}

// TestSubmitWithoutThrottle: a nil Throttle is allowed (timing tests).
func TestSubmitWithoutThrottle(t *testing.T) {
	t.Parallel()
	var c calls
	resp := submit(t, &fakeDirectory{c: &c, found: true}, nil, "jdupont")
	if c.String() != "find verify" || resp.status != 200 {
		t.Errorf("calls %v, status %d", c.String(), resp.status)
	}
}

type answer struct {
	status int
	body   string
}

func submit(t *testing.T, dir Directory, thr *fakeThrottle, login string) answer {
	t.Helper()
	cfg := Config{
		Provider: fakeProvider{}, Directory: dir, Forms: anyForm{},
		Pages:       &web.Pages{Log: slog.New(slog.DiscardHandler)},
		Identifiers: audit.NewIdentifiers([]byte("k")),
		Now:         func() time.Time { return time.Unix(1000, 0) },
		Log:         slog.New(slog.DiscardHandler), LostPasswordPath: "/mot-de-passe-perdu",
		Changes: fakeChanges{c: callsOf(dir)},
	}
	if thr != nil {
		cfg.Throttle = thr
	}
	form := url.Values{"csrf_token": {"t"}, "login": {login}, "password": {"Some-Password-1"}}
	r := httptest.NewRequest(http.MethodPost, "/login?authRequestID=ar1", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	New(cfg).ServeHTTP(w, r)
	body, _ := io.ReadAll(w.Result().Body)
	return answer{w.Code, string(body)}
}

// fakeChanges records the start of a new-password step.
type fakeChanges struct{ c *calls }

func (f fakeChanges) Begin(w http.ResponseWriter, r *http.Request, v reset.Verified) error {
	if f.c != nil {
		f.c.add("begin:" + v.Purpose)
	}
	if v.AuthRequestID != "ar1" || v.KeepSession != "" {
		return fmt.Errorf("begin %+v: want the pending sign-in and no session", v)
	}
	http.Redirect(w, r, "/mot-de-passe-perdu/nouveau", http.StatusSeeOther)
	return nil
}

func callsOf(d Directory) *calls {
	if f, ok := d.(*fakeDirectory); ok {
		return f.c
	}
	return nil
}
