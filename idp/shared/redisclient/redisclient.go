// Package redisclient makes the go-redis client of a redis section, the
// same way for both binaries and their admin commands: one address is a
// single server, several a Cluster, a master name Sentinel.
package redisclient

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
)

// New returns the client of c; name is its CLIENT SETNAME (idp, ldapsync).
func New(c config.Redis, name string) (redis.UniversalClient, error) {
	opts := &redis.UniversalOptions{
		Addrs: c.Addrs, MasterName: c.MasterName, Username: c.Username, Password: c.Password, DB: c.DB,
		ClientName: name,
	}
	if c.TLS {
		opts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		if c.CAFile != "" {
			pem, err := os.ReadFile(c.CAFile)
			if err != nil {
				return nil, fmt.Errorf("redis CA: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("redis CA %s: no certificate found", c.CAFile)
			}
			opts.TLSConfig.RootCAs = pool
		}
	}
	return redis.NewUniversalClient(opts), nil
}
