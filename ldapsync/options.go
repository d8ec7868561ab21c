package ldapsync

import (
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/ldapsync/directory"
)

// Options is everything a Worker is built from, as plain values: what
// cmd/ldapsync reads from its configuration file, and what the idp's dev
// mode has in memory (its Redis client, key pairs made at start, its
// demo directory as Writer) to run the worker in-process.
type Options struct {
	Redis redis.UniversalClient // required
	// Prefix and StatusTTL must be the web tier's (see job.Options).
	Prefix    string
	StatusTTL time.Duration
	// PrivateKeys are the keys jobs may be sealed to (required; several
	// during a rotation).
	PrivateKeys []hpke.PrivateKey
	// WebPublicKeys are the web tier's public keys (required; several
	// during a rotation): only jobs signed with one of them are written.
	WebPublicKeys []ed25519.PublicKey
	// Targets are the directories every change is written to, in order;
	// or give Writer alone for one directory (see Worker.Writer).
	Targets []Target
	Writer  Writer
	Now     func() time.Time
	Log     *slog.Logger

	// As the Worker fields of the same names.
	Name                          string
	Lease                         time.Duration
	RetryBackoff, MaxRetryBackoff time.Duration
	RetryLimit                    int
	PollInterval                  time.Duration
	PolicyInterval                time.Duration
	Tracer                        trace.TracerProvider // nil: no spans
}

// Target is one directory every change is written to.
type Target struct {
	// Name is a short id, unique among the targets: 1 to 32 characters
	// among a-z, 0-9, '_' and '-'. It names the target in Redis and in the
	// logs; renaming a target loses the progress of the jobs in flight.
	Name string
	// Label is what the person reads, in French: « l’annuaire des
	// usagers », « la messagerie des lycées ». Required.
	Label string
	// FindBy is the identifier of the job that finds the person there:
	// FindByUID (Job.Login, the default) or FindByMail (Job.Mail; a job
	// without one fails there with no_such_user).
	FindBy string
	// CheckSubject requires the entry found to carry the job's subject
	// (directory.Entry.Subject); without it the identifier alone decides,
	// as in a directory with its own entryUUIDs. Keep it on the first
	// target: it is what stops a login that changed hands.
	CheckSubject bool
	// PolicyDN is the ppolicy entry whose rules apply there, optional:
	// when the Writer can read it (PolicyReader), the worker publishes
	// its rules for the web tier (job.Queue.PublishPolicies).
	PolicyDN string
	Writer   Writer // required
}

// Values of Target.FindBy.
const (
	FindByUID  = "uid"
	FindByMail = "mail"
)

// PolicyReader is what a Writer may also do: read a password policy
// entry (*directory.Writer does). A Writer without it publishes no policy.
type PolicyReader interface {
	Policy(ctx context.Context, dn string) (directory.Policy, error)
}

// The target Writer alone stands for.
const (
	defaultTargetName  = "annuaire"
	defaultTargetLabel = "l’annuaire"
)

// resolveTargets checks targets, or makes the single target writer
// stands for, and applies defaults. It reports every problem at once.
func resolveTargets(targets []Target, writer Writer) ([]Target, error) {
	switch {
	case len(targets) == 0 && writer == nil:
		return nil, errors.New("ldapsync: no directory to write to: give Targets, or a Writer")
	case len(targets) > 0 && writer != nil:
		return nil, errors.New("ldapsync: give Targets or a Writer, not both")
	case len(targets) == 0:
		return []Target{{Name: defaultTargetName, Label: defaultTargetLabel, FindBy: FindByUID, CheckSubject: true, Writer: writer}}, nil
	}
	out := make([]Target, len(targets))
	seen := map[string]bool{}
	var errs []error
	for i, t := range targets {
		switch {
		case !job.ValidTargetName(t.Name):
			errs = append(errs, fmt.Errorf("target %d: name %q is not 1 to 32 characters among a-z, 0-9, _ and -", i+1, t.Name))
		case seen[t.Name]:
			errs = append(errs, fmt.Errorf("target %d: name %q used twice", i+1, t.Name))
		}
		seen[t.Name] = true
		if t.Label == "" {
			errs = append(errs, fmt.Errorf("target %q: no label", t.Name))
		}
		if t.FindBy == "" {
			t.FindBy = FindByUID
		}
		if t.FindBy != FindByUID && t.FindBy != FindByMail {
			errs = append(errs, fmt.Errorf("target %q: FindBy %q is not %s or %s", t.Name, t.FindBy, FindByUID, FindByMail))
		}
		if t.Writer == nil {
			errs = append(errs, fmt.Errorf("target %q: no Writer", t.Name))
		}
		out[i] = t
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("ldapsync: %w", err)
	}
	return out, nil
}

// New builds a Worker and its Queue from o. It contacts nothing.
func New(o Options) (*Worker, error) {
	if o.Redis == nil {
		return nil, errors.New("ldapsync: Options need Redis")
	}
	if _, err := resolveTargets(o.Targets, o.Writer); err != nil {
		return nil, err
	}
	opener, err := job.NewOpener(o.PrivateKeys...)
	if err != nil {
		return nil, fmt.Errorf("ldapsync: %w", err)
	}
	verifier, err := job.NewVerifier(o.WebPublicKeys...)
	if err != nil {
		return nil, fmt.Errorf("ldapsync: %w", err)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	q := job.NewQueue(job.Options{Client: o.Redis, Prefix: o.Prefix, Now: o.Now, StatusTTL: o.StatusTTL})
	return &Worker{
		Queue: q, Opener: opener, Verifier: verifier, Targets: o.Targets, Writer: o.Writer, Clock: o.Now, Log: o.Log, Name: o.Name,
		Lease: o.Lease, RetryBackoff: o.RetryBackoff, MaxRetryBackoff: o.MaxRetryBackoff,
		RetryLimit: o.RetryLimit, PollInterval: o.PollInterval, PolicyInterval: o.PolicyInterval,
		Tracer: o.Tracer,
	}, nil
}
