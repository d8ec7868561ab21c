package app

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
)

// deriveCookieKeys derives the key of one use (label) from the cookie key,
// and the keys to accept from the cookie keys it replaced.
func deriveCookieKeys(s config.Secrets, label string) (current []byte, previous [][]byte, err error) {
	current, err = hkdf.Key(sha256.New, s.CookieKey, nil, label, 32)
	if err != nil {
		return nil, nil, fmt.Errorf("derive the key %q: %w", label, err)
	}
	for _, k := range s.PreviousCookieKeys {
		p, err := hkdf.Key(sha256.New, k, nil, label, 32)
		if err != nil {
			return nil, nil, fmt.Errorf("derive the key %q: %w", label, err)
		}
		previous = append(previous, p)
	}
	return current, previous, nil
}
