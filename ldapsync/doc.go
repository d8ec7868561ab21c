// Package ldapsync is the worker that writes new passwords into the
// directories. The web tier never holds directory write rights: it seals
// the password to this worker's public key, signs the job with its own
// key and queues it (package job); a Worker claims it, opens the password, writes it to each of its
// Targets in order, each with its Writer (package directory for
// OpenLDAP), and settles the job. It imports nothing under idp/.
//
// One attempt at a job first verifies the web tier's signature (Verifier):
// a job it does not verify was forged or altered by someone who can write
// to Redis, and fails as unauthenticated on every target, written nowhere.
// (A copy of a settled job queued again never gets here: Claim drops it.)
// It then opens the sealed password (an unreadable one fails the job: it
// was sealed to a key this worker does not hold), then, for each target
// not settled by an earlier attempt, in order:
//
//  1. find the entry by the job's login (Target.FindBy uid) or mail
//     (FindBy mail; a job without mail fails there as no_such_user) and,
//     when the target checks subjects, check that it is the job's subject
//     (otherwise the identifier now names someone else: failed there);
//  2. if an earlier attempt marked this target (it got as far as writing
//     and then crashed, or lost the answer), ask the directory whether the
//     password changed since that mark: if so, the target is done, without
//     writing again (which the policy would refuse as "in history");
//  3. never start a write after the job's ExpiresAt;
//  4. mark the target with the entry's pwdChangedTime, then write;
//  5. record the target's outcome in the queue as soon as it is known.
//
// A target that is unreachable is left for a retry while the others are
// written; a retry only tries the targets not settled yet. Once a policy
// has refused the password and no target has it, the targets after are
// not written: the person picks another password and nothing is left
// inconsistent.
//
// The job's outcome: every target written → Done; none written and the
// first target that refused did so by its policy (too_short, too_long,
// in_history, too_young, quality, policy) → Rejected, whether that target
// comes first or after one that was unreachable; none written otherwise
// (no such user, a refused writer, an unreadable password) → Failed with
// the first target's reason; some written and some not → Partial, with
// the first failing target's reason. Unreachable directories are retried
// with exponential backoff (the status shows queued/unavailable) and,
// after RetryLimit retries, the targets left fail as unavailable, or as
// unconfirmed when a write was sent and whether it was applied could never
// be read back: the job is then Failed, or Partial when a target was
// written. With a single target this is the behaviour of a one-directory
// worker. Settling deletes the job and its sealed password, keeps the
// status (with every target's outcome) for the waiting screen and
// publishes the outcome on the events stream, in one Redis script (see
// job.Queue.Complete).
//
// While it runs, a worker reads the password policy of every target with
// a PolicyDN (when its Writer is a PolicyReader) at start and every
// PolicyInterval, and publishes the lengths it enforces
// (job.Queue.PublishPolicies) for the web tier to check a new password
// against every target before queueing it.
//
// The lease is renewed every third of Worker.Lease while a job runs; a
// worker that dies leaves it to another after the lease. On shutdown
// (Run's context ends) the job in hand is handed back at once.
//
// New builds a Worker from plain values (Options): cmd/ldapsync does so
// from its configuration file, and the idp's dev mode can run one
// in-process with its own Writer.
package ldapsync
