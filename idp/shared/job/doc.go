// Package job is the password-change queue contract shared by the web
// tier and ldapsync: the Job and Status records, sealing the new password
// to the worker's public key (Sealer, Opener; see seal.go), and the Queue
// in Redis over a go-redis UniversalClient. It knows nothing of LDAP.
//
// # Life of a job
//
// The web tier makes a Job (NewID, Subject, Login, optionally Mail,
// CreatedAt, ExpiresAt), seals the password for it, signs it with its own
// key (Signer; the worker verifies it with Verifier: whoever can write to
// Redis can seal, only the web tier can sign) and calls Enqueue. A worker calls
// Claim, which holds the job under a lease (a random token and an end
// time); Renew extends it. The worker then Completes it (Done, Rejected
// with the policy's reason, Failed, or Partial when it wrote some of its
// targets and not the others), or Retries it later (a directory was
// unreachable). Complete deletes the job and its sealed password, keeps
// the Status for StatusTTL for the waiting screen, and publishes an Event
// on EventsStream, in one script. A worker that dies leaves its lease to
// run out: the next Claim of any worker puts the job back and hands it out
// again (Attempt counts every claim). Every call on a held job checks the
// claim's token, so a worker whose lease ran out can no longer settle,
// retry, mark or record the job another worker now holds (ErrLeaseLost).
//
// # Targets
//
// A worker may write each change to several targets (directories), in a
// fixed order, each named by a short id. The queue keeps the progress per
// target in the job, so that it survives retries and crashes: before its
// first write to a target a worker records a Mark (what that directory
// showed before writing; opaque here), and as soon as a target is settled
// it Records the outcome (TargetOutcome). A later attempt finds them in
// Job.Marks and Job.Outcomes: it does not try a settled target again, and
// compares a marked one with its directory to learn whether an earlier
// write was applied. Status.Targets and Event.Targets list every target
// with its outcome, for the waiting screen and the web tier.
//
// A job past its ExpiresAt is never handed out for a first write: Claim
// settles it with reason ReasonExpired, unless one of its targets carries
// a mark without a recorded outcome, which only a worker can resolve. It
// settles as Partial when some target was written already (Done when the
// status lists every target written), else as Failed.
//
// # Policies
//
// Workers publish the password policy of each target (PublishPolicies)
// every minute or so; the web tier reads the live ones (Policies) to check
// a new password against every target before queueing it.
//
// Only one unsettled job per subject exists at a time (Enqueue answers
// *PendingError), so two changes of one person can never be applied in
// the wrong order.
//
// Expiry is logical: decisions compare with Options.Now; Redis TTLs, the
// logical life plus Options.Slack, only clean up.
//
// # Keys
//
// Prefix defaults to "idp:". Every key carries the {pwchange} hash tag, so
// each script works on one Cluster slot; per-job keys are named inside the
// scripts from that common base.
//
//	{pwchange}:ready           sorted set: job id → due time (ms)        no TTL
//	{pwchange}:leases          sorted set: job id → lease end (ms)       no TTL
//	{pwchange}:job:<id>        hash: job (JSON: id, sub, login, mail,     ExpiresAt + Slack
//	                           times, sig), sealed, exp, sub, pk, attempts,
//	                           token, worker, until; per target:
//	                           mark:<target>, out:<target> (JSON outcome)
//	{pwchange}:status:<id>     hash: state, reason, attempts, updated,    while the job lives: ExpiresAt +
//	                           exp (logical expiry, ms), targets (JSON)   StatusTTL + Slack; settled: StatusTTL + Slack
//	{pwchange}:pending:<b64url(sub)>  the subject's unsettled job id     ExpiresAt + Slack
//	{pwchange}:written:<b64url(sub)>  when a job of the subject was last  2 × the job's life + Slack
//	                           written (done, partial, or failed
//	                           unconfirmed): a job whose Since is not
//	                           after it is superseded
//	{pwchange}:settled:<id>    the final state of a settled job: a copy   until ExpiresAt, + Slack
//	                           queued again is dropped (Enqueue, Claim)
//	{pwchange}:events          stream of settled jobs: job, sub, state,   no TTL; MAXLEN ~ EventsMaxLen
//	                           reason, attempts, at, targets (JSON)
//	{pwchange}:policies        hash: target → JSON policy with its        longest publication + Slack
//	                           place, read time and logical expiry
//
// Nothing in these keys reveals a password: the only secret is the HPKE
// ciphertext, which lives no longer than its job. The login and the mail
// are in the job only, never in the status or the events.
//
// # Guarantees
//
// Claim is atomic: one job is held by at most one claim at a time. A
// worker stalled past its lease while another holds the job could still
// be writing; Worker renews its lease well before it runs out so that only
// a frozen process gets there. Redis must run with AOF and
// maxmemory-policy noeviction for the queue to be durable.
package job
