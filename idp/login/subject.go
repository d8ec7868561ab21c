package login

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/connector"
	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
)

// SourceDirectory is the Source of the directory's people, and their idp
// claim.
const SourceDirectory = config.DirectorySource

// plainSub is an upstream subject kept as it is after its upstream's id:
// short, and no character that a site, a URL or the library's opaque
// tokens (split on ':') could misread; not starting with '~', which marks
// the hashed ones.
var plainSub = regexp.MustCompile(`^[A-Za-z0-9._-][A-Za-z0-9._~-]{0,199}$`)

// Subject is the sub this provider gives id. The directory's subjects are
// kept unchanged (sites already store them). An upstream's are namespaced
// by the upstream's id, so two upstreams never give the same sub and
// none collides with the directory's, since a directory account whose
// subject starts with "<upstream>." cannot sign in (Handler.verify):
// "<upstream>.<sub>", or "<upstream>.~" and the base64url SHA-256 of the
// sub when it is long, starts with '~' or has other characters. Both are
// stable.
func Subject(id connector.Identity) string {
	if id.Source == SourceDirectory {
		return id.Subject
	}
	if plainSub.MatchString(id.Subject) {
		return id.Source + "." + id.Subject
	}
	h := sha256.Sum256([]byte(id.Subject))
	return id.Source + ".~" + base64.RawURLEncoding.EncodeToString(h[:])
}

// ErrSubjectReserved: the directory account's subject starts with
// "<upstream id>." for a configured upstream, so it is, or may become,
// the sub of one of that upstream's people; the account cannot sign in.
var ErrSubjectReserved = errors.New("login: directory subject is in an upstream's namespace")

// reservedBy returns the configured upstream whose namespace holds the
// directory subject sub. Upstream ids have no '.', so only the part
// before the first '.' can be one.
func (h *Handler) reservedBy(sub string) (string, bool) {
	id, _, dotted := strings.Cut(sub, ".")
	if !dotted {
		return "", false
	}
	_, ok := h.cfg.Upstreams[id]
	return id, ok
}

// verify checks password against the directory. A password proved right
// for an account whose subject is in an upstream's namespace gives an
// error wrapping ErrSubjectReserved: signed in, that account would be
// that upstream's person for every site. Checked only once the password
// is right, so the answer tells nothing to who does not know it; a
// subject unchanged since sites stored it can only be refused, never
// rewritten.
func (h *Handler) verify(ctx context.Context, c ldapauth.Candidate, password string) (ldapauth.Result, error) {
	res, err := h.cfg.Directory.Verify(ctx, c, password)
	if err != nil || !res.PasswordRight() {
		return res, err
	}
	if id, ok := h.reservedBy(res.User.Subject); ok {
		h.cfg.Log.ErrorContext(ctx, "directory account refused: its subject starts with an upstream's id and a dot, "+
			"so sites would take it for that upstream's person; give the entry another subject or the upstream another id",
			"upstream", id, "dn", res.User.DN, "request_id", web.RequestID(ctx))
		return ldapauth.Result{}, fmt.Errorf("entry %s, upstream %s: %w", res.User.DN, id, ErrSubjectReserved)
	}
	return res, nil
}

// directoryIdentity is the directory's account as an identity.
func directoryIdentity(u ldapauth.User) connector.Identity {
	return connector.Identity{
		Source: SourceDirectory, Subject: u.Subject,
		Email: u.Email,
		// The directory's address is the one the account was created
		// with; the Région's account creation confirms it.
		EmailVerified: u.Email != "",
		Name:          u.Name, GivenName: u.GivenName, FamilyName: u.FamilyName,
		PreferredUsername: u.Username,
		AMR:               []string{"pwd"},
	}
}

// amrFederated is the amr of an upstream sign-in whose upstream said
// nothing of how the person authenticated.
const amrFederated = "fed"
