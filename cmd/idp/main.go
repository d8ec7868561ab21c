// Command idp is the identity provider of « Mes démarches en
// Nouvelle-Aquitaine ».
//
//	idp serve --config /etc/idp/idp.yaml          serve
//	idp check-config --config /etc/idp/idp.yaml   print every problem of the file, or "ok"
//	idp version                                   print the version and commit
//
// The embedded demo of `make run` is another command, cmd/idp-dev, so
// that this binary links neither the demo nor any directory writer.
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

	"github.com/region-nouvelle-aquitaine/idp/idp/app"
	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage:
  idp serve --config FILE          serve with the configuration in FILE
  idp check-config --config FILE   print every problem of FILE with its line, or "ok"
  idp version                      print the version and commit of this build
  idp admin COMMAND --config FILE  operator commands: mails given up, throttle, sessions (idp admin help)
  idp help                         print this help`

// Exit codes: 0 done, 1 failed (a problem in the configuration, the
// server stopped on an error), 2 the command line itself is wrong.
const (
	exitOK      = 0
	exitFailed  = 1
	exitCommand = 2
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return exitCommand
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprintln(stdout, usage)
		return exitOK
	case "version":
		if len(args) > 1 {
			fmt.Fprintln(stderr, usage)
			return exitCommand
		}
		fmt.Fprintln(stdout, "idp", version.String())
		return exitOK
	case "admin":
		return runAdmin(ctx, args[1:], stdout, stderr)
	case "serve", "check-config":
	default:
		fmt.Fprintf(stderr, "idp: unknown command %q\n%s\n", args[0], usage)
		return exitCommand
	}
	path, code := configFlag(args, stdout, stderr)
	if path == "" {
		return code
	}
	var err error
	if args[0] == "check-config" {
		err = checkConfig(path, stdout)
	} else {
		err = serve(ctx, path)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailed
	}
	return exitOK
}

// configFlag parses the --config FILE of serve and check-config; "" and
// the exit code when there is none to use (help asked, or a mistake).
func configFlag(args []string, stdout, stderr io.Writer) (string, int) {
	fs := flag.NewFlagSet("idp "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (YAML)")
	err := fs.Parse(args[1:])
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fmt.Fprintf(stdout, "usage: idp %s --config FILE\n", args[0])
		fs.PrintDefaults()
		return "", exitOK
	case err != nil:
		return "", exitCommand
	case *path == "" || fs.NArg() > 0:
		fmt.Fprintf(stderr, "idp %s: --config FILE is required, and nothing else\n%s\n", args[0], usage)
		return "", exitCommand
	}
	return *path, exitOK
}

// checkConfig loads the file as serve would; the error lists every
// problem, one a line, with its line in the file.
func checkConfig(path string, stdout io.Writer) error {
	if _, err := config.Load(path); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}

func serve(ctx context.Context, path string) error {
	a, err := app.Open(ctx, path)
	if err != nil {
		return err
	}
	defer a.Close()
	return a.Serve(ctx)
}
