package app_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestMailSignedWithDKIM: with mail.dkim configured, the reset mail
// reaches the relay with a signature that an independent verifier
// accepts against the published key.
func TestMailSignedWithDKIM(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "dkim.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startStackWith(t, stackOptions{Config: func(c *config.Config) {
		c.Mail.DKIM = config.MailDKIM{Domain: "nouvelle-aquitaine.fr", Selector: "idp2026", PrivateKeyFile: keyFile}
	}})
	r := resetClient{newBrowserless(t, s)}
	r.start()
	r.email(url.Values{"email": {testenv.Users()[0].Mail}}, nil)
	data := s.SMTP.WaitForMessages(t, 1, 15*time.Second)[0].Data

	record := "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(data), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			if name != "idp2026._domainkey.nouvelle-aquitaine.fr" {
				return nil, errors.New("no such record: " + name)
			}
			return []string{record}, nil
		},
	})
	if err != nil || len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "nouvelle-aquitaine.fr" {
		t.Fatalf("DKIM: %d signatures, %v, %+v", len(vs), err, vs)
	}
}
