// Package mail delivers mail through a durable outbox in Redis: an Outbox
// queues a Message in one round trip, and a Sender, running in the
// background of every replica, hands it to the SMTP relay with go-mail,
// retries temporary failures with backoff, and gives up after
// Config.GiveUpAfter. It knows nothing of what a mail says (views/email
// renders it) nor of codes and links.
//
// # Keys
//
// Prefix defaults to "idp:"; every key carries the {mail} hash tag, so one
// MULTI may touch several in a Redis Cluster.
//
//	{mail}:outbox       stream of queued mails, consumer group "senders"   no TTL; MAXLEN ~ MaxLen
//	{mail}:dead         stream of mails given up, still sealed, with the    no TTL; MAXLEN ~ DeadMaxLen
//	                    reason and the number of attempts
//	{mail}:sent:<entry> "lease:<consumer>:<random>" while an attempt runs,   lease: 3×SMTP timeout + 5s;
//	                    then "sent" once the relay accepted the mail         sent: GiveUpAfter + 10m
//
// An outbox entry holds "v" (format), "at" (enqueue time, Unix ms) and "p":
// the recipient, subject, both parts and Message-ID as JSON, sealed with
// AES-256-GCM under Config.Key (nonce ‖ ciphertext; "v" and "at" are bound
// as associated data). A dump of Redis thus shows no code, link or address
// . Settled entries are deleted (XACK and XDEL in one MULTI), so
// even sealed copies do not linger.
//
// # Delivery
//
// Each Sender is one consumer of the group, read through
// idp/shared/loop.Group (as the completion consumer reads its events). New
// entries come with XREADGROUP (blocking up to Block). An entry that
// failed, or that a crashed Sender had claimed, stays in the group's
// pending list; at every cycle a Sender lists pending entries (XPENDING
// with IDLE) and claims (XCLAIM with the same minimum idle time, so two
// Senders never both win) those idle for backoff(n): RetryDelay doubled per
// delivery n, at most MaxRetryDelay. XAUTOCLAIM would be one call, but it
// takes one idle threshold for all entries and resets the idle time of
// every entry it returns, so it cannot give each entry its own backoff.
//
// An attempt first takes the entry's marker key with SET NX (a lease), so a
// slow attempt is never doubled by a claim from another Sender. Then:
//
//   - the relay accepted the mail (or go-mail reports it delivered even if
//     QUIT failed): the marker becomes "sent", then the entry is
//     acknowledged and deleted;
//   - a 5xx reply to MAIL, RCPT or DATA, a payload that cannot be opened
//     (another key), or an age past GiveUpAfter (by Config.Now): the entry
//     moves to the dead letters at once, logged at error level;
//   - a 4xx reply, a broken connection, a refused dial, TLS or AUTH
//     failure: the lease is released and the entry waits for its backoff.
//     When the relay cannot be reached at all, the cycle stops trying
//     other entries until the next one.
//
// # Guarantees
//
// At least once, at most once in practice. A Sender that dies after the
// relay accepted a mail but before the "sent" marker reached Redis (a
// window of one Redis round trip), or whose attempt outlives its lease
// while another Sender claims the entry, causes a second delivery. The
// Message-ID is fixed at enqueue time, so the second copy carries the same
// one. A Sender that dies before the relay accepted the mail loses
// nothing: its entry is claimed again once its lease and backoff are over.
// The outbox is durable only if Redis is (AOF, maxmemory-policy
// noeviction); trimming at MaxLen drops the oldest entries, sent or not,
// and is only reached when the relay has been down for very long.
//
// Logs name entries by stream id and Message-ID; they never carry the
// body, the address or the text of an SMTP reply (which may quote the
// address).
package mail
