// Command ldapsync is the worker that writes new passwords into the
// directories for the identity provider: flags, signals and wiring only;
// ldapsync/app builds the worker from the configuration idp/config reads.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/version"
	"github.com/region-nouvelle-aquitaine/idp/ldapsync/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv)
	stop()
	if code := exitCode(0); errors.As(err, &code) {
		os.Exit(int(code))
	}
	if err != nil {
		if !errors.Is(err, errReported) {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(1)
	}
}

const usage = `usage:
  ldapsync run --config FILE          apply queued password changes, with the configuration in FILE
  ldapsync check-config --config FILE print every problem of FILE (exit 1), or "ok"
  ldapsync keygen [--out FILE]        make a key pair: the private key file (printed, or written to FILE
                                      with mode 0600) and the public key for the web tier's configuration
  ldapsync webkey [--out FILE]        make the web tier's signing key: the secret (printed, or written to
                                      FILE with mode 0600) for the provider's ldapsync.signing_key_file,
                                      and its public key for web_public_keys here
  ldapsync pubkey --key FILE          print the public key of a private key file (either kind)
  ldapsync version                    print the module version and commit
  ldapsync admin COMMAND --config FILE  operator commands on the password-change queue (ldapsync admin help)`

// errReported is returned once the problems are on stderr already.
var errReported = errors.New("reported")

func run(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) (string, bool)) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		_, err := fmt.Fprintln(stdout, usage)
		return err
	case "version":
		_, err := fmt.Fprintln(stdout, "ldapsync", version.String())
		return err
	case "admin":
		if code := runAdmin(ctx, args[1:], stdout, stderr, env); code != 0 {
			return exitCode(code)
		}
		return nil
	}
	// Each subcommand takes only its own flag.
	flagOf := map[string][2]string{
		"run":          {"config", "configuration file (YAML)"},
		"check-config": {"config", "configuration file (YAML)"},
		"keygen":       {"out", "write the private key to this new file (mode 0600) instead of printing it"},
		"webkey":       {"out", "write the secret to this new file (mode 0600) instead of printing it"},
		"pubkey":       {"key", "private key file"},
	}
	f, ok := flagOf[args[0]]
	if !ok {
		return errors.New(usage)
	}
	fs := flag.NewFlagSet("ldapsync "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	value := fs.String(f[0], "", f[1])
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 || (*value == "" && f[0] != "out") {
		return errors.New(usage)
	}
	switch args[0] {
	case "keygen":
		return app.Keygen(*value, stdout)
	case "webkey":
		return app.Webkey(*value, stdout, stderr)
	case "pubkey":
		return app.Pubkey(*value, stdout)
	}
	data, err := os.ReadFile(*value)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	cfg, err := config.ParseLdapsync(*value, data, env, os.ReadFile)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return errReported
	}
	if args[0] == "check-config" {
		_, err := fmt.Fprintln(stdout, "ok")
		return err
	}
	return app.Run(ctx, cfg, stderr)
}
