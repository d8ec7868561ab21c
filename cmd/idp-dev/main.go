// Command idp-dev serves the embedded demo of `make run`: in-memory Redis,
// the demo directory, ldapsync in the same process and a demo site, on a
// loopback address. Never in production.
//
//	idp-dev [--addr localhost:8080]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/region-nouvelle-aquitaine/idp/idp/dev"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("idp-dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", dev.Addr, "the loopback host:port to serve on (the issuer is http://ADDR)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	a, err := dev.Build(ctx, stdout, *addr)
	if err != nil {
		return err
	}
	defer a.Close()
	return a.Serve(ctx)
}
