// Package store owns every Redis key, TTL and script of the web tier, over a
// go-redis UniversalClient (single node, Sentinel or Cluster). It holds no OIDC,
// HTTP or policy: lifetimes arrive as ExpiresAt fields or arguments.
//
// Expiry is logical: every record carries ExpiresAt and reads compare it with
// Options.Now, returning ErrNotFound once it is past. The Redis TTL, set to
// the remaining life plus Options.Slack, only cleans up. A record already
// expired when written is still stored, for Slack, and reads as ErrNotFound.
//
// Key families (Prefix defaults to "idp:"), their callers, and their TTLs:
//
//	ar:<id>            auth request JSON (oidc adapter creates, login completes)   ExpiresAt+Slack
//	code:<sha256hex>   auth code hash: ar, exp, keep, used — marked used by one     keep+Slack
//	                   script on first use, kept as a tombstone to detect replays
//	grant:<ar id>      tokens issued from one code, revoked on its replay           ExpiresAt+Slack
//	at:<id>            access token JSON (oidc adapter)                             ExpiresAt+Slack
//	rt:{<family>}      refresh family hash: rec, exp, cur, u:<sha256>… (oidc)      family ExpiresAt+Slack,
//	                                                                                stretched to outlive its access tokens
//	sess:<id>          SSO session JSON (login)                                     ExpiresAt+Slack
//	sub:<b64url(sub)>  per-person index: sorted set of s:<session>, f:<family>,     longest member+Slack
//	                   a:<access token>, score = expiry ms
//	reset:<id>         « Mot de passe perdu » flow JSON (reset)                      ExpiresAt+Slack
//	resetlink:<hmac>   link token hash → flow id, GETDEL on use (reset)             ExpiresAt+Slack
//	keep:<job id>      session kept by the revocation after that password change    ExpiresAt+Slack
//	rate:<name>        one rate counter's sliding-window log (reset): sorted set    window+Slack
//	                   of <ms>-<random>, score = logical event time (ms)            from the newest event
//	sigkey:<name>      signing key bytes (oidc adapter), SET NX                     none: must outlive any TTL
//
// Codes and refresh tokens are stored only as SHA-256 hashes, so a Redis dump
// reveals neither. A refresh token value is "<familyID>.<secret>" (base64url,
// 128 and 256 random bits); the family hash keeps the current secret's hash and
// the hashes of rotated-away ones, so presenting one of those is detected as
// reuse and revokes the family. Access tokens bound to a family are checked
// against the family on every read, so revoking a family revokes them at once.
//
// Atomicity: each family operation is one Lua script on one key; auth request
// and session updates use WATCH/MULTI on one key; a code is consumed by one
// script on its own key; a rate counter drops what left its window, counts
// and records in one script on its own key, so parallel requests never pass a
// limit together. The family key carries a {hash tag} so that companion keys
// can join it in one Cluster slot later. Operations across families, sessions and tokens (RevokeSubject)
// are sequences of single-key commands: index entries are written before the
// record they point to, so a crash leaves stale index members (pruned on read),
// never an unindexed record.
package store
