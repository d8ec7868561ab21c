package mail

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// dnsRecord is the TXT record publishing key's public half (RFC 6376,
// RFC 8463).
func dnsRecord(t *testing.T, key crypto.Signer) string {
	t.Helper()
	switch k := key.(type) {
	case *rsa.PrivateKey:
		der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	case ed25519.PrivateKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(k.Public().(ed25519.PublicKey))
	}
	t.Fatalf("key type %T", key)
	return ""
}

// verify checks data's DKIM signatures with an independent verifier
// (emersion/go-msgauth), the record served for one selector only.
func verify(t *testing.T, data []byte, selector, domain, record string) ([]*dkim.Verification, error) {
	t.Helper()
	return dkim.VerifyWithOptions(bytes.NewReader(data), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			if name != selector+"._domainkey."+domain {
				return nil, errors.New("no such record: " + name)
			}
			return []string{record}, nil
		},
	})
}

// TestDKIM: with a key configured every mail leaves signed by the From
// domain's parent (RSA 2048 and Ed25519), the signature covers the
// headers a receiver judges, and it verifies at the relay — and no longer
// once the body is altered.
func TestDKIM(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const domain, selector = "nouvelle-aquitaine.fr", "idp2026"
	for _, tc := range []struct {
		name string
		key  crypto.Signer
	}{{"rsa-2048", rsaKey}, {"ed25519", edKey}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sink, clk := testenv.StartSMTP(t), testenv.NewClock(clockStart)
			cfg := testConfig(testenv.StartRedis(t).Client(t), sink, clk)
			cfg.DKIM = &DKIM{Domain: domain, Selector: selector, Key: tc.key}
			enqueue(t, newOutbox(t, cfg), resetMail(t))
			runSender(t, cfg)
			data := sink.WaitForMessages(t, 1, 10*time.Second)[0].Data
			checkResetMail(t, data, clk.Now())

			vs, err := verify(t, data, selector, domain, dnsRecord(t, tc.key))
			if err != nil || len(vs) != 1 {
				t.Fatalf("%d signatures (%v), want 1", len(vs), err)
			}
			v := vs[0]
			if v.Err != nil || v.Domain != domain {
				t.Fatalf("signature by %q: %v", v.Domain, v.Err)
			}
			for _, h := range []string{"from", "to", "subject", "date", "message-id"} {
				if !slices.ContainsFunc(v.HeaderKeys, func(k string) bool { return strings.EqualFold(k, h) }) {
					t.Errorf("the signature does not cover %s (it covers %v)", h, v.HeaderKeys)
				}
			}

			altered := bytes.Replace(data, []byte(resetCode), []byte("ZZZZZZ"), 1)
			if bytes.Equal(altered, data) {
				t.Fatal("the code is not in the raw message")
			}
			if vs, _ := verify(t, altered, selector, domain, dnsRecord(t, tc.key)); len(vs) != 1 || vs[0].Err == nil {
				t.Error("an altered body still verifies")
			}
		})
	}
}

// TestDKIMRefused: a signature DMARC would not count, or a weak key, is
// refused when the Sender is built, not discovered by receivers.
func TestDKIMRefused(t *testing.T) {
	t.Parallel()
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	sink := testenv.StartSMTP(t)
	rdb := testenv.StartRedis(t).Client(t)
	for _, tc := range []struct {
		name string
		dkim DKIM
		want string
	}{
		{"another domain", DKIM{Domain: "example.org", Selector: "s1", Key: edKey}, "is not the from address's domain"},
		{"a sibling domain", DKIM{Domain: "autre.nouvelle-aquitaine.fr", Selector: "s1", Key: edKey}, "is not the from address's domain"},
		{"RSA 1024", DKIM{Domain: "nouvelle-aquitaine.fr", Selector: "s1", Key: weak}, "at least 2048"},
		{"no key", DKIM{Domain: "nouvelle-aquitaine.fr", Selector: "s1"}, "no DKIM key"},
		{"bad selector", DKIM{Domain: "nouvelle-aquitaine.fr", Selector: "s 1", Key: edKey}, "selector"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(rdb, sink, testenv.NewClock(clockStart))
			cfg.DKIM = &tc.dkim
			_, err := NewSender(cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewSender: %v, want an error saying %q", err, tc.want)
			}
		})
	}
	cfg := testConfig(rdb, sink, testenv.NewClock(clockStart))
	cfg.DKIM = &DKIM{Domain: "motdepasse.nouvelle-aquitaine.fr", Selector: "s1", Key: edKey}
	if _, err := NewSender(cfg, nil); err != nil {
		t.Errorf("the From domain itself: %v", err)
	}
}
