package app

import (
	"crypto/ed25519"
	"fmt"
	"io"
	"os"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
)

// Keygen makes a key pair jobs are sealed to. The private key file starts
// with a comment holding the public key, so `ldapsync keygen > key.pem`
// keeps both; with out, the file is written there (never over an existing
// one) and the public key printed.
func Keygen(out string, stdout io.Writer) error {
	k, err := job.GenerateKey()
	if err != nil {
		return err
	}
	pemBytes, err := job.MarshalPrivateKey(k)
	if err != nil {
		return err
	}
	pub := job.MarshalPublicKey(k.PublicKey())
	content := "# ldapsync private key: only ldapsync reads it; keep it secret (mode 0600).\n" +
		"# Its public key, for the web tier's configuration:\n# " + pub + "\n" + string(pemBytes)
	if out == "" {
		_, err = io.WriteString(stdout, content)
		return err
	}
	if err := writeNew(out, content); err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	_, err = fmt.Fprintln(stdout, pub)
	return err
}

// Webkey makes the web tier's signing key. The secret alone goes to
// stdout (or to out), so `ldapsync webkey > FILE` makes a file the
// provider reads as is; the public key goes to stderr then.
func Webkey(out string, stdout, stderr io.Writer) error {
	k, err := job.GenerateSigningKey()
	if err != nil {
		return err
	}
	pub := job.MarshalVerifyKey(k.Public().(ed25519.PublicKey))
	if out == "" {
		if _, err := fmt.Fprintln(stdout, job.MarshalSigningKey(k)); err != nil {
			return err
		}
		_, err = fmt.Fprintf(stderr, "# The provider's ldapsync.signing_key (secret) is on stdout; for web_public_keys in ldapsync.yaml:\n%s\n", pub)
		return err
	}
	if err := writeNew(out, job.MarshalSigningKey(k)+"\n"); err != nil {
		return fmt.Errorf("webkey: %w", err)
	}
	_, err = fmt.Fprintln(stdout, pub)
	return err
}

// Pubkey prints the public key of a private key file of either kind.
func Pubkey(path string, stdout io.Writer) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if sk, err := job.ParseSigningKey(string(data)); err == nil {
		_, err = fmt.Fprintln(stdout, job.MarshalVerifyKey(sk.Public().(ed25519.PublicKey)))
		return err
	}
	k, err := job.ParsePrivateKey(data)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, job.MarshalPublicKey(k.PublicKey()))
	return err
}

// writeNew writes content to a new file of mode 0600; an existing file is
// never overwritten.
func writeNew(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("%w (an existing key file is never overwritten)", err)
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
