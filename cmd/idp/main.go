// Command idp is the identity provider of « Mes démarches en
// Nouvelle-Aquitaine ».
//
//	idp serve --config /etc/idp/idp.yaml
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
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

const usage = `usage:
  idp serve --config FILE   serve with the configuration in FILE`

func run(ctx context.Context, args []string, _, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "serve" {
		return errors.New(usage)
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (YAML)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *configPath == "" {
		return errors.New("--config FILE is required\n" + usage)
	}
	a, err := app.Open(ctx, *configPath)
	if err != nil {
		return err
	}
	defer a.Close()
	return a.Serve(ctx)
}
