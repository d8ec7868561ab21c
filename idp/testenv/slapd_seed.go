package testenv

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// User is a person seeded in every slapd started by StartSlapd, as
// uid=<UID>,ou=people,<base> with cn "GivenName Surname".
type User struct{ UID, Password, Mail, GivenName, Surname string }

// CN is the common name stored in the directory.
func (u User) CN() string { return u.GivenName + " " + u.Surname }

// Users returns the people seeded in every slapd. The slice is a copy.
func Users() []User {
	return []User{
		{UID: "jdupont", Password: "Correct-Horse-42", Mail: "jeanne.dupont@example.org", GivenName: "Jeanne", Surname: "Dupont"},
		{UID: "pmartin", Password: "Tres-Long-Mot-de-passe-7", Mail: "pierre.martin@example.org", GivenName: "Pierre", Surname: "Martin"},
		// Non-ASCII name and password: they travel base64-encoded in LDIF and
		// as UTF-8 in binds.
		{UID: "elefevre", Password: "Île-de-Ré-2024!", Mail: "elodie.lefevre@example.org", GivenName: "Élodie", Surname: "Lefèvre"},
	}
}

// NumberedUser is the i-th person seeded by SlapdOptions.NumberedUsers:
// uid user<i>, password password<i>, the names a load driver can make from
// a pattern and an index.
func NumberedUser(i int) User {
	return User{
		UID: fmt.Sprintf("user%d", i), Password: fmt.Sprintf("password%d", i),
		Mail: fmt.Sprintf("user%d@example.org", i), GivenName: "Usager", Surname: fmt.Sprintf("N%d", i),
	}
}

// ssha hashes a password the way slappasswd -h {SSHA} does:
// base64(SHA1(password || salt) || salt) with an 8-byte random salt.
func ssha(password string) string {
	salt := make([]byte, 8)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails since Go 1.24
	h := sha1.New()
	h.Write([]byte(password))
	h.Write(salt)
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(h.Sum(nil), salt...))
}

func randomSecret() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ldifWriter builds LDIF text, base64-encoding values that are not an
// RFC 2849 SAFE-STRING (non-ASCII names, leading space, ...).
type ldifWriter struct{ b strings.Builder }

func (w *ldifWriter) attr(name, value string) {
	if safeLDIFString(value) {
		fmt.Fprintf(&w.b, "%s: %s\n", name, value)
		return
	}
	fmt.Fprintf(&w.b, "%s:: %s\n", name, base64.StdEncoding.EncodeToString([]byte(value)))
}

func (w *ldifWriter) entry(dn string, attrs ...string) {
	w.attr("dn", dn)
	for i := 0; i+1 < len(attrs); i += 2 {
		w.attr(attrs[i], attrs[i+1])
	}
	w.b.WriteString("\n")
}

func safeLDIFString(s string) bool {
	if s == "" {
		return true
	}
	if s[0] == ' ' || s[0] == ':' || s[0] == '<' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == 0 || c == '\n' || c == '\r' || c >= 0x80 {
			return false
		}
	}
	return true
}

// seedLDIF is the initial content loaded with slapadd: base, policies,
// service accounts, people.
func (s *Slapd) seedLDIF(opts SlapdOptions) string {
	var w ldifWriter
	w.entry(s.BaseDN, "objectClass", "dcObject", "objectClass", "organization", "dc", "example", "o", "Example")
	w.entry("ou=policies,"+s.BaseDN, "objectClass", "organizationalUnit", "ou", "policies")

	policy := []string{
		"objectClass", "device", "objectClass", "pwdPolicy", "cn", "default",
		"pwdAttribute", "userPassword",
		"pwdLockout", "TRUE",
		"pwdMaxFailure", fmt.Sprint(opts.MaxFailure),
		// Failures older than this no longer count; a locked account stays
		// locked for pwdLockoutDuration. Both are longer than any test.
		"pwdFailureCountInterval", "600",
		"pwdLockoutDuration", "900",
		"pwdAllowUserChange", "TRUE",
		"pwdSafeModify", "FALSE",
		"pwdMustChange", strings.ToUpper(fmt.Sprint(opts.MustChange)),
	}
	if opts.MinLength > 0 {
		// Quality 1: check what can be checked; the cleartext reaches the
		// overlay for exop and Modify writes (ppolicy_hash_cleartext).
		policy = append(policy, "pwdMinLength", fmt.Sprint(opts.MinLength), "pwdCheckQuality", "1")
	}
	if opts.InHistory > 0 {
		policy = append(policy, "pwdInHistory", fmt.Sprint(opts.InHistory))
	}
	w.entry(s.policyDN(), policy...)
	for _, p := range opts.Policies {
		s.policyEntry(&w, p, opts)
	}
	// Service accounts get a policy without lockout, so that a test that
	// hammers a wrong password never locks the provider out of the directory.
	w.entry("cn=services,ou=policies,"+s.BaseDN,
		"objectClass", "device", "objectClass", "pwdPolicy", "cn", "services",
		"pwdAttribute", "userPassword", "pwdLockout", "FALSE")

	w.entry("ou=services,"+s.BaseDN, "objectClass", "organizationalUnit", "ou", "services")
	for _, sa := range []struct{ dn, cn, pw string }{
		{s.ReaderDN, "reader", s.ReaderPassword},
		{s.WriterDN, "writer", s.WriterPassword},
	} {
		w.entry(sa.dn,
			"objectClass", "organizationalRole", "objectClass", "simpleSecurityObject",
			"cn", sa.cn, "userPassword", ssha(sa.pw),
			"pwdPolicySubentry", "cn=services,ou=policies,"+s.BaseDN)
	}

	w.entry(s.PeopleDN, "objectClass", "organizationalUnit", "ou", "people")
	for _, u := range Users() {
		w.entry("uid="+u.UID+","+s.PeopleDN,
			"objectClass", "inetOrgPerson",
			"uid", u.UID, "cn", u.CN(), "givenName", u.GivenName, "sn", u.Surname,
			"mail", u.Mail, "userPassword", ssha(u.Password))
	}
	for i := range opts.NumberedUsers {
		u := NumberedUser(i)
		w.entry("uid="+u.UID+","+s.PeopleDN,
			"objectClass", "inetOrgPerson",
			"uid", u.UID, "cn", u.CN(), "givenName", u.GivenName, "sn", u.Surname,
			"mail", u.Mail, "userPassword", ssha(u.Password))
	}
	for _, a := range opts.Accounts {
		s.accountEntry(&w, a)
	}
	out := w.b.String()
	if extra := strings.TrimSpace(opts.ExtraLDIF); extra != "" {
		out += extra + "\n"
	}
	return out
}
