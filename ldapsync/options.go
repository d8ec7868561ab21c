package ldapsync

import (
	"crypto/hpke"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/ldapsync/job"
)

// Options is everything a Worker is built from, as plain values: what
// cmd/ldapsync reads from its configuration file, and what the idp's dev
// mode has in memory (its Redis client, a key pair made at start, its
// demo directory as Writer) to run the worker in-process.
type Options struct {
	Redis redis.UniversalClient // required
	// Prefix and StatusTTL must be the web tier's (see job.Options).
	Prefix    string
	StatusTTL time.Duration
	// PrivateKeys are the keys jobs may be sealed to (required; several
	// during a rotation).
	PrivateKeys []hpke.PrivateKey
	Writer      Writer // required
	Now         func() time.Time
	Log         *slog.Logger

	// As the Worker fields of the same names.
	Name                          string
	Lease                         time.Duration
	RetryBackoff, MaxRetryBackoff time.Duration
	RetryLimit                    int
	PollInterval                  time.Duration
}

// New builds a Worker and its Queue from o. It contacts nothing.
func New(o Options) (*Worker, error) {
	if o.Redis == nil || o.Writer == nil {
		return nil, errors.New("ldapsync: Options need Redis and a Writer")
	}
	opener, err := job.NewOpener(o.PrivateKeys...)
	if err != nil {
		return nil, fmt.Errorf("ldapsync: %w", err)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	q := job.NewQueue(job.Options{Client: o.Redis, Prefix: o.Prefix, Now: o.Now, StatusTTL: o.StatusTTL})
	return &Worker{
		Queue: q, Opener: opener, Writer: o.Writer, Clock: o.Now, Log: o.Log, Name: o.Name,
		Lease: o.Lease, RetryBackoff: o.RetryBackoff, MaxRetryBackoff: o.MaxRetryBackoff,
		RetryLimit: o.RetryLimit, PollInterval: o.PollInterval,
	}, nil
}
