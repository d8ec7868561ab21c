package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// CA is a certificate authority made by the test process, and the one
// certificate it issued: for 127.0.0.1, 127.0.0.2, ::1 and localhost, so
// that every loopback server of a test can serve https with it.
type CA struct {
	// Cert is the authority's certificate; Leaf is the servers' chain
	// (leaf then authority) with the leaf's key.
	Cert *x509.Certificate
	Leaf tls.Certificate
	pool *x509.CertPool
	spki string
}

// LoopbackCA returns the process's test CA, made on first use. Nothing is
// written to disk and nothing is trusted outside the clients that ask for
// it (CA.Client, CA.Pool, Browser with TrustCA).
func LoopbackCA(t testing.TB) *CA {
	t.Helper()
	ca, err := loopbackCA()
	if err != nil {
		t.Fatalf("testenv: test CA: %v", err)
	}
	return ca
}

var loopbackCA = sync.OnceValues(newCA)

func newCA() (*CA, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "testenv loopback CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(127, 0, 0, 2), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("leaf certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	return &CA{
		Cert: caCert,
		Leaf: tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: key, Leaf: leaf},
		pool: pool,
		spki: base64.StdEncoding.EncodeToString(sum[:]),
	}, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

// ServerTLS is a fresh server configuration presenting the leaf.
func (c *CA) ServerTLS() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{c.Leaf}, MinVersion: tls.VersionTLS12}
}

// Pool holds the CA alone, for Go clients.
func (c *CA) Pool() *x509.CertPool { return c.pool }

// PEM is the CA certificate, for programs that read a CA file.
func (c *CA) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
}

// Transport is a fresh transport that trusts the CA and no other, and
// never uses an environment proxy.
func (c *CA) Transport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.TLSClientConfig = &tls.Config{RootCAs: c.pool, MinVersion: tls.VersionTLS12}
	return tr
}

// Client is an HTTP client over Transport.
func (c *CA) Client() *http.Client {
	return &http.Client{Transport: c.Transport(), Timeout: 10 * time.Second}
}

// SPKI is the base64 SHA-256 of the leaf's SubjectPublicKeyInfo, the form
// Chromium's --ignore-certificate-errors-spki-list takes.
func (c *CA) SPKI() string { return c.spki }
