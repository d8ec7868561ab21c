// Package loop holds the one run-until-cancelled machinery of the
// long-running consumers of both tiers: the mail sender and the completion
// consumer of the web tier, and the ldapsync worker.
//
// Run repeats a step until its context is done, pausing after each failed
// step (100ms, doubled after each further failure, at most 5s) and logging
// the failure with the pause as text. Group builds on it for a Redis
// stream read by a consumer group: it creates the group, claims again the
// entries left pending long enough (a consumer that stopped, or a handling
// that failed), reads new entries and hands each to a handler. Whether and
// when an entry is acknowledged is the handler's business.
package loop
