package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// SlapdOptions tune the default password policy (cn=default,ou=policies) of
// a slapd started by StartSlapd. Zero values give the documented defaults.
type SlapdOptions struct {
	MaxFailure int  // ppolicy pwdMaxFailure; default 20 (above the provider's own lockout threshold 10)
	MinLength  int  // pwdMinLength (with pwdCheckQuality 1); default 0 = off
	InHistory  int  // pwdInHistory; default 0 = off
	MustChange bool // pwdMustChange: a password set by the rootdn must be changed at next bind

	// Policies and Accounts seed extra password policies and people in a
	// given state (expired, must change, locked); see Account.
	Policies []Policy
	Accounts []Account

	// NumberedUsers seeds that many more people, NumberedUser(0) to
	// NumberedUser(NumberedUsers-1), for load tests that need many distinct
	// accounts.
	NumberedUsers int

	// ExtraLDIF is appended to the seed (for example more users). A
	// userPassword may be {SSHA} or clear text: slapadd stores it as given and
	// slapd accepts both for a simple bind.
	ExtraLDIF string
}

// Slapd is a running OpenLDAP server with its own configuration and an mdb
// database in the test's temporary directory.
type Slapd struct {
	URL      string // ldap://127.0.0.1:PORT
	BaseDN   string // dc=example,dc=org
	PeopleDN string // ou=people,dc=example,dc=org; users are uid=<uid>,PeopleDN, inetOrgPerson, {SSHA} passwords

	AdminDN, AdminPassword   string // rootdn
	ReaderDN, ReaderPassword string // read-only service account: reads everything under BaseDN but userPassword
	WriterDN, WriterPassword string // non-root account with write on userPassword under PeopleDN, read elsewhere

	bin  string
	dir  string
	conf string
	port int
	proc *process
}

func (s *Slapd) policyDN() string { return "cn=default,ou=policies," + s.BaseDN }

// StartSlapd starts slapd on 127.0.0.1 with the ppolicy overlay and the seed
// described in Users. It is stopped in t.Cleanup.
func StartSlapd(t testing.TB, opts SlapdOptions) *Slapd {
	t.Helper()
	bin := Require(t, "slapd", "slapd")
	slapadd := Require(t, "slapadd", "slapd")
	if opts.MaxFailure == 0 {
		opts.MaxFailure = 20
	}

	dir := t.TempDir()
	s := &Slapd{
		BaseDN:         "dc=example,dc=org",
		PeopleDN:       "ou=people,dc=example,dc=org",
		AdminDN:        "cn=admin,dc=example,dc=org",
		AdminPassword:  "admin-" + randomSecret(),
		ReaderDN:       "cn=reader,ou=services,dc=example,dc=org",
		ReaderPassword: "reader-" + randomSecret(),
		WriterDN:       "cn=writer,ou=services,dc=example,dc=org",
		WriterPassword: "writer-" + randomSecret(),
		bin:            bin,
		dir:            dir,
		conf:           filepath.Join(dir, "slapd.conf"),
	}
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	if err := os.WriteFile(s.conf, []byte(s.config()), 0o600); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	seed := filepath.Join(dir, "seed.ldif")
	if err := os.WriteFile(seed, []byte(s.seedLDIF(opts)), 0o600); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	// slapadd loads the seed offline; it computes entryUUID and the other
	// operational attributes, and is much faster than LDAP adds.
	if out, err := exec.Command(slapadd, "-f", s.conf, "-l", seed).CombinedOutput(); err != nil {
		t.Fatalf("testenv: slapadd: %v\n%s", err, out)
	}

	s.proc, s.port = startWithRetry(t, s.run)
	s.URL = "ldap://127.0.0.1:" + portString(s.port)
	t.Cleanup(func() { s.Stop(t) })
	return s
}

// run starts slapd on port and waits until the reader account can bind.
func (s *Slapd) run(port int) (*process, error) {
	url := "ldap://127.0.0.1:" + portString(port)
	// -d 0 keeps slapd in the foreground (any -d disables forking) while
	// printing only startup and fatal messages, so the process is ours.
	p, err := startProcess("slapd", s.bin, "-f", s.conf, "-h", url+"/", "-d", "0")
	if err != nil {
		return nil, err
	}
	err = p.waitReady(15*time.Second, func() error {
		c, err := ldap.DialURL(url)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetTimeout(2 * time.Second)
		return c.Bind(s.ReaderDN, s.ReaderPassword)
	})
	if err != nil {
		p.kill()
		return nil, err
	}
	return p, nil
}

// Stop stops slapd cleanly; the data stays for Start.
func (s *Slapd) Stop(t testing.TB) {
	t.Helper()
	if s.proc != nil {
		s.proc.stop(t)
		s.proc = nil
	}
}

// Start starts a stopped slapd again on the same port with the same data.
func (s *Slapd) Start(t testing.TB) {
	t.Helper()
	if s.proc != nil {
		return
	}
	p, err := s.run(s.port)
	if err != nil {
		t.Fatalf("testenv: restart slapd on port %d: %v", s.port, err)
	}
	s.proc = p
}

// conn dials slapd for the helpers below; the caller closes it.
func (s *Slapd) conn(t testing.TB) *ldap.Conn {
	t.Helper()
	c, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatalf("testenv: dial slapd: %v", err)
	}
	c.SetTimeout(5 * time.Second)
	return c
}

// EntryUUID returns the entryUUID of uid=<uid>,PeopleDN.
func (s *Slapd) EntryUUID(t testing.TB, uid string) string {
	t.Helper()
	c := s.conn(t)
	defer c.Close()
	if err := c.Bind(s.AdminDN, s.AdminPassword); err != nil {
		t.Fatalf("testenv: bind as admin: %v", err)
	}
	dn := "uid=" + ldap.EscapeDN(uid) + "," + s.PeopleDN
	res, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		1, 5, false, "(objectClass=*)", []string{"entryUUID"}, nil))
	if err != nil {
		t.Fatalf("testenv: read entryUUID of %s: %v", dn, err)
	}
	if len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("entryUUID") == "" {
		t.Fatalf("testenv: no entryUUID for %s", dn)
	}
	return res.Entries[0].GetAttributeValue("entryUUID")
}

// Binds reports whether uid=<uid>,PeopleDN can bind with password, asked with
// go-ldap directly rather than through the code under test. Any answer but
// success or invalid credentials fails the test, so that a directory that is
// down never passes for a refused password.
func (s *Slapd) Binds(t testing.TB, uid, password string) bool {
	t.Helper()
	c := s.conn(t)
	defer c.Close()
	err := c.Bind("uid="+ldap.EscapeDN(uid)+","+s.PeopleDN, password)
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		t.Fatalf("testenv: bind as %s: %v", uid, err)
	}
	return err == nil
}

// config is a slapd.conf (used directly with -f, no cn=config). ppolicy's
// schema is built into the 2.5 overlay, so only the classic schemas are
// included.
func (s *Slapd) config() string {
	people := s.PeopleDN
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	for _, schema := range []string{"core", "cosine", "inetorgperson", "nis"} {
		line("include /etc/ldap/schema/%s.schema", schema)
	}
	line("modulepath /usr/lib/ldap")
	line("moduleload back_mdb")
	line("moduleload ppolicy")
	line("pidfile %q", filepath.Join(s.dir, "slapd.pid"))
	line("argsfile %q", filepath.Join(s.dir, "slapd.args"))
	line("password-hash {SSHA}")
	// As Debian's package configures slapd: only what is always logged.
	// The default level sends a few lines per operation to the machine's
	// syslog, which is no place for a test run's binds (nor, on a machine
	// without one, worth a failed connection each time).
	line("loglevel none")
	// Root DSE and schema: for bound clients only (anonymous may only bind).
	line(`access to dn.base="" by users read by * none`)
	line(`access to dn.base="cn=Subschema" by users read by * none`)

	line("database mdb")
	line("suffix %q", s.BaseDN)
	line("rootdn %q", s.AdminDN)
	line("rootpw %s", ssha(s.AdminPassword))
	line("directory %q", filepath.Join(s.dir, "db"))
	line("maxsize 104857600")
	line("index objectClass eq")
	line("index uid,mail,cn eq")
	line("index entryUUID eq")
	line("overlay ppolicy")
	line("ppolicy_default %q", s.policyDN())
	line("ppolicy_use_lockout")    // locked accounts get the accountLocked control
	line("ppolicy_hash_cleartext") // clear text written by Modify/exop is hashed
	// First match wins. Binding needs "auth" on userPassword for anonymous.
	line(`access to dn.subtree=%q attrs=userPassword`, people)
	line(`  by dn.exact=%q write`, s.WriterDN)
	line(`  by self write`)
	line(`  by anonymous auth`)
	line(`  by * none`)
	line(`access to attrs=userPassword`)
	line(`  by anonymous auth`)
	line(`  by * none`)
	line(`access to dn.subtree=%q`, s.BaseDN)
	line(`  by dn.exact=%q read`, s.ReaderDN)
	line(`  by dn.exact=%q read`, s.WriterDN)
	line(`  by self read`)
	line(`  by * none`)
	return b.String()
}
