package mail

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	gomail "github.com/wneessen/go-mail"
)

// DKIM signs every mail the Sender sends, so that the Région's
// DMARC policy can be enforced without relying on the relay.
type DKIM struct {
	// Domain is d=: the From address must be in it or below it (DMARC
	// relaxed alignment). Selector is s=: the public key is published at
	// <Selector>._domainkey.<Domain>.
	Domain, Selector string
	// Key is an RSA key of at least 2048 bits or an Ed25519 key.
	Key crypto.Signer
}

// LoadDKIMKey reads a PEM private key (PKCS#1 or PKCS#8, RSA or Ed25519).
func LoadDKIMKey(path string) (crypto.Signer, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mail: DKIM key: %w", err)
	}
	k, err := gomail.PrivKeyFromPEM(pem)
	if err != nil {
		return nil, fmt.Errorf("mail: DKIM key %s: %w", path, err)
	}
	return k, nil
}

// dnsLabel is one label of a selector or domain.
var dnsLabel = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

func validDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for l := range strings.SplitSeq(s, ".") {
		if !dnsLabel.MatchString(l) {
			return false
		}
	}
	return true
}

// check reports what stops d from signing mail from fromAddress.
func (d *DKIM) check(fromAddress string) error {
	var errs []error
	if !validDNSName(d.Domain) {
		errs = append(errs, fmt.Errorf("DKIM domain %q is not a domain name", d.Domain))
	}
	if !validDNSName(d.Selector) {
		errs = append(errs, fmt.Errorf("DKIM selector %q is not a DNS name", d.Selector))
	}
	from := strings.ToLower(fromAddress[strings.LastIndexByte(fromAddress, '@')+1:])
	if dom := strings.ToLower(d.Domain); from != dom && !strings.HasSuffix(from, "."+dom) {
		errs = append(errs, fmt.Errorf("DKIM domain %q is not the from address's domain %q or a parent of it: DMARC would not count the signature", d.Domain, from))
	}
	switch k := d.Key.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			errs = append(errs, fmt.Errorf("DKIM RSA key of %d bits: at least 2048 are needed", k.N.BitLen()))
		}
	case ed25519.PrivateKey:
	case nil:
		errs = append(errs, errors.New("no DKIM key"))
	default:
		errs = append(errs, fmt.Errorf("DKIM key of type %T: give an RSA or Ed25519 key", k))
	}
	return errors.Join(errs...)
}
