// Package completion is the web tier's consumer of the ldapsync events
// stream (job.Queue.EventsStream): what must happen once the directory
// writer settled a password change, even when the person closed the tab
// on the waiting screen.
//
// On a written change (job.Done) it ends every SSO session, refresh-token
// family and access token of the person (store.RevokeSubject), queues the
// « Votre mot de passe a été modifié » mail to the address the directory
// holds for the person's subject, and writes the audit event
// reset.written. A change given up whose write may have been applied
// (job.ReasonUnconfirmed) ends the sessions and tokens the same way, with
// no mail. Any other change refused by the directory's policy or given up
// is only audited (reset.refused, reset.failed, with the reason).
//
// Delivery is at least once: every process reads the stream in one
// consumer group ("web"), under its own consumer name; an entry is
// acknowledged (XACK) only after it was handled, and an entry left pending
// by a consumer that stopped or crashed, or whose handling failed (Redis,
// the directory or the outbox unavailable), is claimed again (XPENDING,
// XCLAIM) after ClaimAfter by whichever process looks next.
//
// Handling is idempotent: a marker per job id (SET NX, with a lease while
// an attempt runs, then "done" for MaxAge and an hour more) makes a second
// delivery of the same event, or a copy of it under another stream id,
// change nothing. Revocation is idempotent in itself and runs first, so a
// directory outage delays only the mail. The one window for a duplicate
// mail is a crash between queuing it and writing "done"; a second notice
// is judged better than none. Events older than MaxAge are acknowledged
// without effect: a consumer group created over an old stream must not
// mail people about changes of last month, nor end sessions opened since.
//
// Keys (Prefix defaults to "idp:"): Prefix+"completion:{<job id>}" the
// marker. Nothing secret is read or written: an event holds the subject,
// the job id, the state and the reason; logs carry those, never the
// address or the mail.
package completion
