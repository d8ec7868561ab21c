package ldapauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/ldapconn"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

func newDirectory(t testing.TB, s *testenv.Slapd, edit func(*Config)) (*Directory, *testenv.Buffer) {
	t.Helper()
	cfg := Config{
		Config: ldapconn.Config{URLs: []string{s.URL}, BindDN: s.ReaderDN, BindPassword: s.ReaderPassword, Timeout: 2 * time.Second},
		BaseDN: s.BaseDN,
	}
	if edit != nil {
		edit(&cfg)
	}
	logs := &testenv.Buffer{}
	d, err := New(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d, logs
}

func user(uid string) testenv.User {
	for _, u := range testenv.Users() {
		if u.UID == uid {
			return u
		}
	}
	panic("no seeded user " + uid)
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	s := testenv.StartSlapd(t, testenv.SlapdOptions{})
	d, logs := newDirectory(t, s, nil)
	jd, el := user("jdupont"), user("elefevre")

	tests := []struct {
		name, login, password string
		wantUID               string // "" = not ok
	}{
		{"uid", "jdupont", jd.Password, "jdupont"},
		{"mail", jd.Mail, jd.Password, "jdupont"},
		{"mail in other case", strings.ToUpper(jd.Mail), jd.Password, "jdupont"},
		{"non-ASCII name and password", "elefevre", el.Password, "elefevre"},
		{"mail of another user", "pierre.martin@example.org", user("pmartin").Password, "pmartin"},
		{"wrong password", "jdupont", "Correct-Horse-43", ""},
		{"password of another user", "jdupont", user("pmartin").Password, ""},
		{"password in other case", "jdupont", strings.ToLower(jd.Password), ""},
		{"unknown user", "nobody", jd.Password, ""},
		{"empty password", "jdupont", "", ""},
		{"empty login", "", jd.Password, ""},
		{"wildcard", "*", jd.Password, ""},
		{"trailing wildcard", "jd*", jd.Password, ""},
		{"filter injection", "*)(uid=*", jd.Password, ""},
		{"filter injection with uid", "jdupont)(|(uid=*", jd.Password, ""},
		{"filter injection closing", "jdupont))(|(objectClass=*", jd.Password, ""},
		{"backslash", `jdupont\2a`, jd.Password, ""},
		{"NUL", "jdupont\x00", jd.Password, ""},
		{"CR LF", "jdupont\r\n", jd.Password, ""},
		{"LF injection", "jdupont\nuid: x", jd.Password, ""},
		{"10000 characters", strings.Repeat("a", 10000), jd.Password, ""},
		{"invalid UTF-8", "jdupont\xff", jd.Password, ""},
		{"service account DN as login", s.ReaderDN, s.ReaderPassword, ""},
		{"service account cn as login", "reader", s.ReaderPassword, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, err := d.Authenticate(ctx, tc.login, tc.password)
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			u := res.User
			if tc.wantUID == "" {
				if res != (Result{}) {
					t.Fatalf("result = %+v; want the zero Result (refusal)", res)
				}
				return
			}
			if !res.OK || res.State != StateNone {
				t.Fatal("refused a correct password")
			}
			want := user(tc.wantUID)
			if u.Subject != s.EntryUUID(t, tc.wantUID) || u.Subject == "" {
				t.Errorf("Subject = %q, want the entryUUID", u.Subject)
			}
			if u.DN != "uid="+want.UID+","+s.PeopleDN || u.Username != want.UID || u.Email != want.Mail ||
				u.GivenName != want.GivenName || u.FamilyName != want.Surname || u.Name != want.CN() {
				t.Errorf("user = %+v, want %+v", u, want)
			}
		})
	}
	for _, u := range testenv.Users() {
		if strings.Contains(logs.String(), u.Password) {
			t.Errorf("a password of %s appears in the logs:\n%s", u.UID, logs)
		}
	}
}

func TestAuthenticateLockedAccount(t *testing.T) {
	t.Parallel()
	s := testenv.StartSlapd(t, testenv.SlapdOptions{MaxFailure: 3})
	d, logs := newDirectory(t, s, nil)
	ctx := context.Background()
	jd := user("jdupont")
	for i := range 3 {
		if res, err := d.Authenticate(ctx, "jdupont", fmt.Sprintf("wrong-%d", i)); res.PasswordRight() || err != nil {
			t.Fatalf("wrong password: ok=%v err=%v", res.OK, err)
		}
	}
	if res, err := d.Authenticate(ctx, "jdupont", jd.Password); res.PasswordRight() || err != nil {
		t.Fatalf("locked account with the right password: ok=%v err=%v, want refusal", res.OK, err)
	}
	// The refusal came from the ppolicy control, not from a wrong password.
	if !strings.Contains(logs.String(), "reason=\"Account locked\"") {
		t.Errorf("no accountLocked reason in the logs:\n%s", logs)
	}
	// Other accounts are not affected.
	if res, err := d.Authenticate(ctx, "pmartin", user("pmartin").Password); !res.OK || err != nil {
		t.Fatalf("pmartin: ok=%v err=%v", res.OK, err)
	}
}

func TestAuthenticateDirectoryDown(t *testing.T) {
	t.Parallel()
	s := testenv.StartSlapd(t, testenv.SlapdOptions{})
	d, _ := newDirectory(t, s, nil)
	ctx := context.Background()
	jd := user("jdupont")
	if res, err := d.Authenticate(ctx, "jdupont", jd.Password); !res.OK || err != nil {
		t.Fatalf("before Stop: ok=%v err=%v", res.OK, err)
	}

	s.Stop(t)
	for range 2 { // twice: the broken connections must not stick
		res, err := d.Authenticate(ctx, "jdupont", jd.Password)
		if res.OK || !errors.Is(err, ErrUnavailable) {
			t.Fatalf("directory stopped: ok=%v err=%v, want ErrUnavailable", res.OK, err)
		}
	}

	s.Start(t)
	if res, err := d.Authenticate(ctx, "jdupont", jd.Password); !res.OK || err != nil {
		t.Fatalf("after Start: ok=%v err=%v", res.OK, err)
	}
}

func TestAuthenticateReconnectsSilently(t *testing.T) {
	t.Parallel()
	s := testenv.StartSlapd(t, testenv.SlapdOptions{})
	d, _ := newDirectory(t, s, nil)
	ctx := context.Background()
	jd := user("jdupont")
	if res, err := d.Authenticate(ctx, "jdupont", jd.Password); !res.OK || err != nil {
		t.Fatalf("first: ok=%v err=%v", res.OK, err)
	}
	// A restart between two logins (like an idle timeout) closes the service
	// and pooled connections; the next login must not see it.
	s.Stop(t)
	s.Start(t)
	if res, err := d.Authenticate(ctx, "jdupont", jd.Password); !res.OK || err != nil {
		t.Fatalf("after restart: ok=%v err=%v", res.OK, err)
	}
}

func TestAuthenticateFailover(t *testing.T) {
	t.Parallel()
	s := testenv.StartSlapd(t, testenv.SlapdOptions{})
	closed := fmt.Sprintf("ldap://127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
	d, logs := newDirectory(t, s, func(c *Config) { c.URLs = []string{closed, s.URL} })
	for range 2 {
		if res, err := d.Authenticate(context.Background(), "jdupont", user("jdupont").Password); !res.OK || err != nil {
			t.Fatalf("ok=%v err=%v", res.OK, err)
		}
	}
	if got := d.preferred.Load(); got != 1 {
		t.Errorf("preferred URL index = %d, want 1 (the one that worked)", got)
	}
	// The dead URL is tried once, not for every connection.
	if n := strings.Count(logs.String(), "ldap connection failed"); n != 1 {
		t.Errorf("%d failed connection attempts logged, want 1:\n%s", n, logs)
	}
}

// More sign-ins at once than the pool holds: they share its connections
// (the service connection and at most PoolSize bind connections are ever
// dialled) instead of dialling one each and closing it afterwards.
func TestAuthenticateConcurrent(t *testing.T) {
	t.Parallel()
	s := testenv.StartSlapd(t, testenv.SlapdOptions{})
	rec := &opsRecorder{}
	d, _ := newDirectory(t, s, func(c *Config) { c.Metrics = rec })
	users := testenv.Users()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for g := range 20 {
		wg.Go(func() {
			for i := range 10 {
				u := users[(g+i)%len(users)]
				res, err := d.Authenticate(context.Background(), u.UID, u.Password)
				if err != nil || !res.OK || res.User.Username != u.UID {
					errs <- fmt.Errorf("goroutine %d, %s: ok=%v err=%v user=%q", g, u.UID, res.OK, err, res.User.Username)
					return
				}
				if res, err := d.Authenticate(context.Background(), "nobody", "x"); res.OK || err != nil {
					errs <- fmt.Errorf("goroutine %d, unknown user: ok=%v err=%v", g, res.OK, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(d.idle); n > d.cfg.PoolSize {
		t.Errorf("%d idle bind connections, pool size %d", n, d.cfg.PoolSize)
	}
	var dials int
	for _, op := range rec.take() {
		if op == "dial" {
			dials++
		}
	}
	if dials > 1+d.cfg.PoolSize {
		t.Errorf("%d connections dialled for 400 binds, want at most %d (the service's and the pool's)", dials, 1+d.cfg.PoolSize)
	}
}

// Every bind connection busy for longer than Timeout: the directory is
// unavailable (« service indisponible »), never a wrong password, and the
// bind counts as failed in the metrics.
func TestAuthenticatePoolBusy(t *testing.T) {
	t.Parallel()
	s := testenv.StartSlapd(t, testenv.SlapdOptions{})
	rec := &opsRecorder{}
	d, _ := newDirectory(t, s, func(c *Config) { c.PoolSize, c.Timeout, c.Metrics = 1, 200*time.Millisecond, rec })
	jd := user("jdupont")
	d.binds <- struct{}{} // a bind that never ends
	if res, err := d.Authenticate(context.Background(), "jdupont", jd.Password); !errors.Is(err, ErrUnavailable) || res.OK {
		t.Fatalf("pool busy: %+v %v, want ErrUnavailable", res, err)
	}
	if ops := rec.take(); !slices.Contains(ops, "bind!") {
		t.Errorf("pool busy recorded as %v, want a failed bind", ops)
	}
	<-d.binds
	if res, err := d.Authenticate(context.Background(), "jdupont", jd.Password); err != nil || !res.OK {
		t.Fatalf("pool free again: %+v %v", res, err)
	}
}

func TestAuthenticateUnusableSubject(t *testing.T) {
	t.Parallel()
	s := testenv.StartSlapd(t, testenv.SlapdOptions{ExtraLDIF: `
dn: uid=colon,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: colon
cn: Colon Person
sn: Person
employeeNumber: a:b
userPassword: Colon-Password-1
`})
	d, logs := newDirectory(t, s, func(c *Config) { c.Attributes.Subject = "employeeNumber" })
	for _, login := range []string{"colon", "jdupont"} { // ':' in it; attribute missing
		pw := "Colon-Password-1"
		if login == "jdupont" {
			pw = user("jdupont").Password
		}
		if res, err := d.Authenticate(context.Background(), login, pw); res.OK || err != nil {
			t.Errorf("%s: ok=%v err=%v, want refusal", login, res.OK, err)
		}
	}
	if n := strings.Count(logs.String(), "no usable subject"); n != 2 {
		t.Errorf("configuration problem logged %d times, want 2:\n%s", n, logs)
	}
}

func TestAuthenticateServiceAccountRefused(t *testing.T) {
	t.Parallel()
	s := testenv.StartSlapd(t, testenv.SlapdOptions{})
	d, logs := newDirectory(t, s, func(c *Config) { c.BindPassword = "not-the-password" })
	res, err := d.Authenticate(context.Background(), "jdupont", user("jdupont").Password)
	if res.OK || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("ok=%v err=%v, want ErrUnavailable", res.OK, err)
	}
	if !strings.Contains(logs.String(), "service account bind refused") || strings.Contains(logs.String(), "not-the-password") {
		t.Errorf("logs:\n%s", logs)
	}
}

func TestAuthenticateStartTLSRefused(t *testing.T) {
	t.Parallel()
	s := testenv.StartSlapd(t, testenv.SlapdOptions{}) // no TLS configured
	d, _ := newDirectory(t, s, func(c *Config) { c.StartTLS = true })
	if res, err := d.Authenticate(context.Background(), "jdupont", user("jdupont").Password); res.OK || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("ok=%v err=%v, want ErrUnavailable (never fall back to clear text)", res.OK, err)
	}
}

func TestAuthenticateContextAndClose(t *testing.T) {
	t.Parallel()
	s := testenv.StartSlapd(t, testenv.SlapdOptions{})
	d, _ := newDirectory(t, s, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if res, err := d.Authenticate(ctx, "jdupont", user("jdupont").Password); res.OK || !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: ok=%v err=%v", res.OK, err)
	}
	d.Close()
	if res, err := d.Authenticate(context.Background(), "jdupont", user("jdupont").Password); res.OK || !errors.Is(err, ErrUnavailable) {
		t.Errorf("after Close: ok=%v err=%v", res.OK, err)
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	s := testenv.StartSlapd(b, testenv.SlapdOptions{})
	d, _ := newDirectory(b, s, nil)
	jd := user("jdupont")
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if res, err := d.Authenticate(ctx, "jdupont", jd.Password); !res.OK || err != nil {
				b.Fatalf("ok=%v err=%v", res.OK, err)
			}
		}
	})
	// One sign-in at a time, as at night: every process on the path has
	// gone idle in between. The gap itself is not timed; what is left
	// over "serial" is what waking up costs the two round trips.
	for _, gap := range []time.Duration{300 * time.Microsecond, 3 * time.Millisecond} {
		b.Run("serial/after "+gap.String()+" idle", func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				time.Sleep(gap)
				b.StartTimer()
				if res, err := d.Authenticate(ctx, "jdupont", jd.Password); !res.OK || err != nil {
					b.Fatalf("ok=%v err=%v", res.OK, err)
				}
			}
		})
	}
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if res, err := d.Authenticate(ctx, "jdupont", jd.Password); !res.OK || err != nil {
					b.Errorf("ok=%v err=%v", res.OK, err)
					return
				}
			}
		})
	})
}
