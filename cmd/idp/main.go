// Command idp is the identity provider of « Mes démarches en
// Nouvelle-Aquitaine».
//
//	idp serve --config /etc/idp/idp.yaml   production
//	idp serve --dev                         embedded default, for trying it out
//
// main reads as load → build → serve; every dependency is built here.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
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
  idp serve --config FILE   serve with the configuration in FILE
  idp serve --dev [--addr localhost:8080]
                            serve the embedded demo on http://localhost:8080 (never in production)`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "serve" {
		return errors.New(usage)
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (YAML)")
	dev := fs.Bool("dev", false, "serve the embedded demo: in-memory Redis, demo directory and demo site")
	addr := fs.String("addr", devAddr, "with --dev: the loopback host:port to serve on (the issuer is http://ADDR)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *dev == (*configPath != "") {
		return errors.New("give exactly one of --config FILE or --dev\n" + usage)
	}
	if !*dev && *addr != devAddr {
		return errors.New("--addr only goes with --dev; the configuration file sets listen")
	}

	var (
		a   *app
		err error
	)
	if *dev {
		a, err = buildDev(ctx, stdout, *addr)
	} else {
		a, err = buildFromFile(ctx, *configPath)
	}
	if err != nil {
		return err
	}
	defer a.close()
	return serve(ctx, a)
}

func serve(ctx context.Context, a *app) error {
	ln, err := net.Listen("tcp", a.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	a.log.Info("listening", "addr", ln.Addr().String(), "issuer", a.issuer)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	a.log.Info("shutting down")
	return srv.Shutdown(shutdown)
}
