package login

import (
	"crypto/sha256"
	"encoding/base64"
	"regexp"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/connector"
	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
)

// SourceDirectory is the Source of the directory's people, and their idp
// claim.
const SourceDirectory = config.DirectorySource

// plainSub is an upstream subject kept as it is after its upstream's id:
// short, and no character that a site, a URL or the library's opaque
// tokens (split on ':') could misread.
var plainSub = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,200}$`)

// Subject is the sub this provider gives id. The directory's subjects are
// kept unchanged (sites already store them). An upstream's are namespaced
// by the upstream's id, so two upstreams never give the same sub and
// none collides with the directory's (whose subjects have no '.'):
// "<upstream>.<sub>", or "<upstream>.~" and the base64url SHA-256 of the
// sub when it is long or has other characters. Both are stable.
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
