package ldapauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// ldapsProxy terminates TLS on 127.0.0.1 with a fresh self-signed
// certificate and forwards to slapd in clear, so that ldaps:// and CAFile
// are exercised without giving the test slapd a TLS setup. It returns the
// ldaps URL and the path of the CA (the certificate itself) in PEM.
func ldapsProxy(t *testing.T, backend string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test directory"},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, err := net.Dial("tcp", backend)
				if err != nil {
					return
				}
				defer b.Close()
				go func() { _, _ = io.Copy(b, c); b.Close() }()
				_, _ = io.Copy(c, b)
			}()
		}
	}()
	return "ldaps://" + l.Addr().String(), caFile
}

func TestAuthenticateLDAPS(t *testing.T) {
	t.Parallel()
	s := testenv.StartSlapd(t, testenv.SlapdOptions{})
	url, caFile := ldapsProxy(t, strings.TrimPrefix(s.URL, "ldap://"))
	tests := []struct {
		name    string
		caFile  string
		wantErr error
	}{
		{"trusted CA", caFile, nil},
		{"system roots do not know it", "", ErrUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := newDirectory(t, s, func(c *Config) { c.URLs, c.CAFile = []string{url}, tc.caFile })
			res, err := d.Authenticate(context.Background(), "jdupont", user("jdupont").Password)
			if !errors.Is(err, tc.wantErr) || res.OK != (tc.wantErr == nil) {
				t.Fatalf("ok=%v err=%v, want err %v", res.OK, err, tc.wantErr)
			}
		})
	}
}
