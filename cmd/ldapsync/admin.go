package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/queueadmin"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/redisclient"
	"github.com/region-nouvelle-aquitaine/idp/ldapsync/app"
)

// runAdmin is `ldapsync admin …`: the password-change queue belongs to
// the writer's operators (see idp/shared/queueadmin).
func runAdmin(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) (string, bool)) int {
	return queueadmin.Dispatch(ctx, "ldapsync", queueadmin.ChangeCommands(), args, stdout, stderr, env, openQueue)
}

// openQueue opens the queue of the configuration file as run would.
func openQueue(_ context.Context, path string, stderr io.Writer) (*job.Queue, *slog.Logger, func(), error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, nil, err
	}
	cfg, err := config.ParseLdapsync(path, data, os.LookupEnv, os.ReadFile)
	if err != nil {
		return nil, nil, nil, err
	}
	rdb, err := redisclient.New(cfg.Redis, "ldapsync-admin")
	if err != nil {
		return nil, nil, nil, err
	}
	q := job.NewQueue(job.Options{Client: rdb, Prefix: cfg.Queue.KeyPrefix, StatusTTL: cfg.Queue.StatusTTL})
	return q, app.NewLogger(cfg.Log, stderr), func() { _ = rdb.Close() }, nil
}

// exitCode is an admin command's exit code, already reported on stderr.
type exitCode int

func (c exitCode) Error() string { return "exit " + strconv.Itoa(int(c)) }
