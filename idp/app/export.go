package app

import (
	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
)

// LDAPConfig is the directory configuration of the ldap section, as serve
// reads it; the admin commands share it.
func LDAPConfig(c config.LDAP) ldapauth.Config { return ldapConfig(c) }
