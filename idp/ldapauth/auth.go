package ldapauth

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"
)

// ErrUnavailable is wrapped by every error Authenticate returns: the
// directory could not be asked (all URLs down, timeout, busy, service
// account refused). Wrong passwords and unknown users are not errors.
var ErrUnavailable = errors.New("ldapauth: directory unavailable")

// maxLoginBytes bounds what is sent to the directory; no real login is longer.
const maxLoginBytes = 256

// User is the directory entry a password was verified against.
type User struct {
	DN         string
	Subject    string // from Attributes.Subject (entryUUID by default): never empty, never contains ':'
	Email      string
	Name       string
	GivenName  string
	FamilyName string
	Username   string
}

// Directory verifies passwords against one LDAP directory. It is safe for
// concurrent use. Connections are opened lazily, so New succeeds while the
// directory is down.
type Directory struct {
	cfg     Config
	urls    []*url.URL
	tls     *tls.Config // nil when no URL needs TLS
	logger  *slog.Logger
	dialer  net.Dialer
	dummyDN string // bound against for unknown logins (timing)
	pad     *padder

	preferred atomic.Int32 // index in urls of the last one that worked
	closed    atomic.Bool

	svcMu      sync.Mutex
	svc        *ldap.Conn    // shared, bound as BindDN, searches only
	svcDialing chan struct{} // non-nil while a dial for svc runs
	svcErr     error         // outcome of the last dial, for its waiters

	poolMu sync.Mutex
	idle   []*ldap.Conn // used only for user binds
	// binds holds one token per bind in progress: at most PoolSize, so
	// that at most PoolSize bind connections are ever open and a burst of
	// sign-ins waits for one instead of dialling (TLS included) and
	// closing a connection each.
	binds chan struct{}
}

// New checks cfg and returns a Directory; it does not connect.
func New(cfg Config, logger *slog.Logger) (*Directory, error) {
	cfg, urls, tlsCfg, err := cfg.prepare()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	rnd := make([]byte, 16)
	_, _ = rand.Read(rnd) // never fails since Go 1.24
	return &Directory{
		cfg:    cfg,
		urls:   urls,
		tls:    tlsCfg,
		logger: logger.With("component", "ldapauth"),
		dialer: net.Dialer{Timeout: cfg.Timeout},
		// A random RDN under the base: it cannot match an entry, and the
		// server answers 49 for it like for a wrong password.
		dummyDN: "cn=nobody-" + hex.EncodeToString(rnd) + "," + cfg.BaseDN,
		pad:     newPadder(),
		binds:   make(chan struct{}, cfg.PoolSize),
	}, nil
}

// Candidate is a login resolved against the directory: the one entry it
// names, or nobody (unknown, ambiguous, or an entry without a usable
// subject). Its zero value is nobody.
type Candidate struct {
	// User is the entry's person; zero for nobody. It is not a proof of
	// anything: no password has been checked yet.
	User User
}

// Found reports whether the login names an entry.
func (c Candidate) Found() bool { return c.User.DN != "" }

// State is what the directory's password policy (the ppolicy response
// control) said about a password the bind proved right.
type State int

const (
	// StateNone: nothing to report.
	StateNone State = iota
	// StateGrace: the password has expired and this bind used one of the
	// grace logins; Result.GraceLogins are left. The person may sign in.
	StateGrace
	// StateMustChange: an administrator set the password and the directory
	// wants a new one first (changeAfterReset). The bind succeeded, but the
	// directory restricts such a session to changing the password.
	StateMustChange
	// StateExpired: the password has expired and no grace login is left.
	StateExpired
)

// Result is the outcome of a password check.
type Result struct {
	// OK: the password is right and the person may be signed in (with
	// StateGrace, better warned).
	OK bool
	// State is set only when the directory proved the password right; an
	// unknown login, a wrong password and a locked account (the directory
	// answers "locked" whatever the password) all give the zero Result.
	State State
	// GraceLogins left after this one, with StateGrace.
	GraceLogins int
	// User is set when the password was proved right (OK or a State).
	User User
}

// PasswordRight reports whether the directory proved the password right,
// whether or not the person may sign in with it.
func (r Result) PasswordRight() bool { return r.OK || r.State != StateNone }

// Authenticate verifies login and password: Find, then Verify.
func (d *Directory) Authenticate(ctx context.Context, login, password string) (Result, error) {
	c, err := d.Find(ctx, login)
	if err != nil {
		return Result{}, err
	}
	return d.Verify(ctx, c, password)
}

// Find resolves login to the one entry it names, without checking any
// password, so that a caller can decide (throttling) before a password is
// sent. Nobody is not an error; err (wrapping ErrUnavailable) means the
// directory could not be asked.
func (d *Directory) Find(ctx context.Context, login string) (Candidate, error) {
	if !validLogin(login) {
		return Candidate{}, nil
	}
	entry, err := d.findUser(ctx, login)
	if err != nil || entry == nil {
		return Candidate{}, err
	}
	u := d.userFrom(entry)
	if u.Subject == "" || strings.Contains(u.Subject, ":") {
		// The subject ends up in tokens that are split on ':'.
		d.logger.Error("ldap entry has no usable subject: check Attributes.Subject",
			"dn", entry.DN, "attribute", d.cfg.Attributes.Subject)
		return Candidate{}, nil
	}
	return Candidate{User: u}, nil
}

// Verify checks password by a bind as c's entry. The zero Result answers
// every refusal; err (wrapping ErrUnavailable) means the directory could
// not be asked and the caller should say so rather than "wrong password".
//
// For nobody, a bind against a DN that cannot exist is still sent and
// stretched to the time of a wrong password on a real entry (see padder),
// so that the response time does not tell whether the login exists.
//
// The ppolicy control is read as slapd 2.5 sends it (checked in
// idp/testenv TestSlapdAccountStates): success with Grace ≥ 0 is a
// grace login; success with changeAfterReset is StateMustChange; 49 with
// passwordExpired comes only for the right password of an expired account,
// so it is StateExpired; 49 with accountLocked comes whatever the password,
// so it is a plain refusal.
func (d *Directory) Verify(ctx context.Context, c Candidate, password string) (Result, error) {
	if password == "" {
		// An empty password would be an unauthenticated bind, which
		// succeeds on most servers: it must never reach the directory.
		return Result{}, nil
	}
	start := time.Now()
	if !c.Found() {
		_, _ = d.checkPassword(ctx, d.dummyDN, password) // result ignored: timing only
		d.pad.pad(ctx, time.Since(start))
		return Result{}, nil
	}
	res, err := d.checkPassword(ctx, c.User.DN, password)
	if err != nil {
		return Result{}, err
	}
	if !res.ok && res.policy.err != ldap.BeheraPasswordExpired {
		d.pad.record(time.Since(start))
	}
	pol := res.policy
	switch {
	case res.ok && pol.err == ldap.BeheraChangeAfterReset:
		return Result{State: StateMustChange, User: c.User}, nil
	case res.ok && pol.grace >= 0:
		return Result{OK: true, State: StateGrace, GraceLogins: int(pol.grace), User: c.User}, nil
	case res.ok:
		return Result{OK: true, User: c.User}, nil
	case pol.err == ldap.BeheraPasswordExpired:
		return Result{State: StateExpired, User: c.User}, nil
	default:
		return Result{}, nil
	}
}

// Close closes every connection. Later calls to Authenticate fail with
// ErrUnavailable.
func (d *Directory) Close() error {
	d.closed.Store(true)
	d.svcMu.Lock()
	if d.svc != nil {
		d.svc.Close()
		d.svc = nil
	}
	d.svcMu.Unlock()
	d.poolMu.Lock()
	idle := d.idle
	d.idle = nil
	d.poolMu.Unlock()
	for _, c := range idle {
		c.Close()
	}
	return nil
}

func validLogin(login string) bool {
	if login == "" || len(login) > maxLoginBytes || !utf8.ValidString(login) {
		return false
	}
	// NUL, CR, LF and other controls never belong to a login.
	return strings.IndexFunc(login, unicode.IsControl) < 0
}

// findUser returns the single entry matching login, or nil when there is
// none or more than one.
func (d *Directory) findUser(ctx context.Context, login string) (*ldap.Entry, error) {
	return d.findOne(ctx, strings.ReplaceAll(d.cfg.UserFilter, loginPlaceholder, ldap.EscapeFilter(login)))
}

// findOne returns the single entry matching filter, or nil when there is
// none or more than one.
func (d *Directory) findOne(ctx context.Context, filter string) (*ldap.Entry, error) {
	timeLimit := max(int(d.cfg.Timeout.Seconds()), 1)
	// Size limit 2: enough to tell "exactly one" from "ambiguous".
	req := ldap.NewSearchRequest(d.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, timeLimit, false, filter, d.cfg.Attributes.list(), nil)

	var res *ldap.SearchResult
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		c, err := d.serviceConn(ctx)
		if err != nil {
			return nil, err
		}
		began := time.Now()
		res, err = c.Search(req)
		if ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
			d.cfg.Observe("search", began, nil) // an answer: several entries
			d.logger.Warn("ldap login matches several entries", "matches_at_least", len(res.Entries))
			return nil, nil
		}
		d.cfg.Observe("search", began, err)
		if err != nil && (c.IsClosing() || transient(err)) {
			// Servers drop idle connections: reconnect and retry once.
			d.dropService(c)
			if attempt == 0 {
				continue
			}
			return nil, fmt.Errorf("%w: search: %w", ErrUnavailable, err)
		}
		if err != nil {
			// Wrong BaseDN, service account without rights, ...: a
			// configuration problem the person cannot fix.
			d.logger.Error("ldap user search failed", "base_dn", d.cfg.BaseDN, "error", err)
			return nil, fmt.Errorf("%w: search: %w", ErrUnavailable, err)
		}
		break
	}
	switch len(res.Entries) {
	case 1:
		return res.Entries[0], nil
	case 0:
		return nil, nil
	default:
		d.logger.Warn("ldap login matches several entries", "matches_at_least", len(res.Entries))
		return nil, nil
	}
}

func (d *Directory) userFrom(e *ldap.Entry) User {
	a := d.cfg.Attributes
	get := e.GetEqualFoldAttributeValue
	return User{
		DN:         e.DN,
		Subject:    get(a.Subject),
		Email:      get(a.Email),
		Name:       get(a.Name),
		GivenName:  get(a.GivenName),
		FamilyName: get(a.FamilyName),
		Username:   get(a.Username),
	}
}
