// Package ldapsync is the worker that writes new passwords into the
// directory. The web tier never holds directory write rights: it seals the
// password to this worker's public key and queues a job (package job); a
// Worker claims it, opens the password, writes it with a Writer (package
// directory for OpenLDAP) and settles the job. It imports nothing under
// idp/.
//
// One attempt at a job:
//
//  1. open the sealed password (an unreadable one fails the job: it was
//     sealed to a key this worker does not hold);
//  2. find the entry by the job's login, and check that it is the job's
//     subject (otherwise the login now names someone else: failed);
//  3. if an earlier attempt marked the job (it got as far as writing and
//     then crashed, or lost the answer), ask the directory whether the
//     password changed since that mark: if so, the job is done, without
//     writing again (which the policy would refuse as "in history");
//  4. never start a write after the job's ExpiresAt;
//  5. mark the job with the entry's pwdChangedTime, then write.
//
// Outcomes: written → Done; refused by the policy → Rejected with the
// reason (too_short, in_history, too_young, quality, policy), so the
// person picks another password; no such user, a refused writer, an
// unreadable password → Failed at once; directory unreachable → retried
// with exponential backoff (the status shows queued/unavailable) and,
// after RetryLimit retries, Failed/unavailable, or Failed/unconfirmed when
// a write was sent and whether it was applied could never be read back.
// Settling deletes the job and its sealed password, keeps the status for
// the waiting screen and publishes the outcome on the events stream, in
// one Redis script (see job.Queue.Complete).
//
// The lease is renewed every third of Worker.Lease while a job runs; a
// worker that dies leaves it to another after the lease. On shutdown
// (Run's context ends) the job in hand is handed back at once.
//
// New builds a Worker from plain values (Options): cmd/ldapsync does so
// from its configuration file, and the idp's dev mode can run one
// in-process with its own Writer.
package ldapsync
