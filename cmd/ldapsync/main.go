// Command ldapsync is the worker that writes new passwords into the
// directories for the identity provider (see package ldapsync).
//
//	ldapsync run --config /etc/ldapsync/ldapsync.yaml   apply queued password changes
//	ldapsync keygen [--out FILE]                        make the key pair jobs are sealed to
//	ldapsync webkey [--out FILE]                        make the web tier's key jobs are signed with
//	ldapsync pubkey --key FILE                          print the public key of a private key file
//
// main reads as load → build → run; every dependency is built here.
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/ldapsync"
	"github.com/region-nouvelle-aquitaine/idp/ldapsync/directory"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

const usage = `usage:
  ldapsync run --config FILE   apply queued password changes, with the configuration in FILE
  ldapsync keygen [--out FILE] make a key pair: the private key file (printed, or written to FILE
                               with mode 0600) and the public key for the web tier's configuration
  ldapsync webkey [--out FILE] make the web tier's signing key: the secret (printed, or written to
                               FILE with mode 0600) for the provider's ldapsync.signing_key_file,
                               and its public key for web_public_keys here
  ldapsync pubkey --key FILE   print the public key of a private key file (either kind)`

func run(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) (string, bool)) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	switch args[0] {
	case "run":
		path := fs.String("config", "", "configuration file (YAML)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *path == "" || fs.NArg() > 0 {
			return errors.New(usage)
		}
		data, err := os.ReadFile(*path)
		if err != nil {
			return fmt.Errorf("configuration: %w", err)
		}
		l := &loader{name: *path, env: env, readFile: os.ReadFile}
		cfg, err := l.parse(data)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, stderr)
	case "keygen":
		out := fs.String("out", "", "write the private key to this new file (mode 0600) instead of printing it")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return keygen(*out, stdout)
	case "webkey":
		out := fs.String("out", "", "write the secret to this new file (mode 0600) instead of printing it")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return webkey(*out, stdout, stderr)
	case "pubkey":
		path := fs.String("key", "", "private key file")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *path == "" {
			return errors.New(usage)
		}
		data, err := os.ReadFile(*path)
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
	return errors.New(usage)
}

// keygen makes a key pair. The private key file starts with a comment
// holding the public key, so `ldapsync keygen > key.pem` keeps both.
func keygen(out string, stdout io.Writer) error {
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

// webkey makes the web tier's signing key. The secret alone goes to
// stdout (or to out), so `ldapsync webkey > FILE` makes a file the
// provider reads as is; the public key goes to stderr then.
func webkey(out string, stdout, stderr io.Writer) error {
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

// serve builds the worker from cfg and runs it until ctx ends.
func serve(ctx context.Context, cfg *config, stderr io.Writer) error {
	log := newLogger(cfg, stderr)
	rdb, err := newRedis(cfg)
	if err != nil {
		return err
	}
	defer rdb.Close()
	targets := make([]ldapsync.Target, len(cfg.targets))
	for i, t := range cfg.targets {
		dir, err := directory.New(t.directory, log.With("target", t.name))
		if err != nil {
			return err
		}
		targets[i] = ldapsync.Target{
			Name: t.name, Label: t.label, FindBy: t.findBy, CheckSubject: t.checkSubject,
			PolicyDN: t.policyDN, Writer: dir,
		}
	}
	if !targets[0].CheckSubject {
		log.Warn("ldapsync: the first directory has no subject_attribute: a login that changed hands is not detected there", "target", targets[0].Name)
	}
	f := cfg.file
	w, err := ldapsync.New(ldapsync.Options{
		Redis: rdb, Prefix: f.Queue.KeyPrefix, StatusTTL: f.Queue.StatusTTL,
		PrivateKeys: cfg.keys, WebPublicKeys: cfg.webKeys, Targets: targets, Log: log,
		Name: f.Worker.Name, Lease: f.Worker.Lease,
		RetryBackoff: f.Worker.RetryBackoff, MaxRetryBackoff: f.Worker.MaxRetryBackoff,
		RetryLimit: f.Worker.RetryLimit, PollInterval: f.Worker.PollInterval,
		PolicyInterval: f.Worker.PolicyInterval,
	})
	if err != nil {
		return err
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		log.Warn("ldapsync: Redis does not answer yet; the worker keeps trying", "err", err)
	}
	return w.Run(ctx)
}

func newLogger(cfg *config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.logLevel}
	if cfg.file.Log.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func newRedis(cfg *config) (redis.UniversalClient, error) {
	r := cfg.file.Redis
	opts := &redis.UniversalOptions{
		Addrs: r.Addrs, MasterName: r.MasterName, Username: r.Username, Password: cfg.redisPass, DB: r.DB,
		ClientName: "ldapsync",
	}
	if r.TLS {
		opts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		if r.CAFile != "" {
			pem, err := os.ReadFile(r.CAFile)
			if err != nil {
				return nil, fmt.Errorf("redis CA: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("redis CA %s: no certificate found", r.CAFile)
			}
			opts.TLSConfig.RootCAs = pool
		}
	}
	return redis.NewUniversalClient(opts), nil
}
