package app

import (
	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/ldapauth"
)

// NewRedis is the client of the redis section, as serve makes it; the
// admin commands share it.
func NewRedis(c config.Redis) (redis.UniversalClient, error) { return newRedis(c) }

// LDAPConfig is the directory configuration of the ldap section, as serve
// reads it; the admin commands share it.
func LDAPConfig(c config.LDAP) ldapauth.Config { return ldapConfig(c) }
