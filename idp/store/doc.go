// Package store owns the Redis keys, TTLs and scripts of the web tier's
// sign-in state (requests, codes, tokens, sessions, reset flows, rate
// counters, the signing key), over a go-redis UniversalClient (single node,
// Sentinel or Cluster). It holds no OIDC, HTTP or policy: lifetimes arrive as
// ExpiresAt fields or arguments.
//
// Not every key of the web tier is here: the mail outbox is idp/mail's, the
// password-change queue and its events are idp/shared/job's (shared with
// ldapsync), the sign-in throttle's counters are idp/throttle's and the
// completion markers idp/completion's; each documents its own keys.
//
// Expiry is logical: every record carries ExpiresAt and reads compare it with
// Options.Now, returning ErrNotFound once it is past. The Redis TTL, set to
// the remaining life plus Options.Slack, only cleans up. A record already
// expired when written is still stored, for Slack, and reads as ErrNotFound.
//
// Key families (Prefix defaults to "idp:"), their callers, and their TTLs.
// <ref> is Ref(v) = hex SHA-256 of a value a browser presents: such keys
// and the records under them never hold the value itself.
//
//	ar:<ref>           auth request JSON, ref of the authRequestID in URLs        ExpiresAt+Slack
//	                   (oidc adapter creates, login completes)
//	code:<sha256hex>   auth code hash: ar (the request's ref), exp, keep, used —    keep+Slack
//	                   marked used by one script on first use, kept as a
//	                   tombstone to detect replays
//	grant:<ar ref>     tokens issued from one code, revoked on its replay           ExpiresAt+Slack
//	at:<id>            access token JSON (oidc adapter)                             ExpiresAt+Slack
//	rt:{<family>}      refresh family hash: rec, exp, cur, u:<sha256>… (oidc)      family ExpiresAt+Slack,
//	                                                                                stretched to outlive its access tokens
//	sess:<ref>         SSO session JSON, ref of the session cookie (login)          ExpiresAt+Slack
//	retired:<ref>      what is kept of a session replaced in its browser: subject   ExpiresAt+Slack
//	                   and earlier refs, for a request still carrying its cookie
//	                   (login, KeepRetired)
//	sub:<b64url(sub)>  per-person index: sorted set of s:<session ref>,             longest member+Slack
//	                   f:<family>, a:<access token>, score = expiry ms
//	reset:<ref>        « Mot de passe perdu » flow JSON, ref of its cookie (reset)  ExpiresAt+Slack
//	resetlink:<hmac>   link token hash → flow ref, GETDEL on use (reset)            ExpiresAt+Slack
//	upflow:<ref>       upstream sign-in round trip JSON, ref of its state; nonce,  ExpiresAt+Slack
//	                   PKCE verifier and sign-in id sealed under the state;
//	                   GETDEL on the callback (login)
//	keep:<job id>      ref of the session kept by the revocation after that         ExpiresAt+Slack
//	                   password change
//	nbf:<b64url(sub)>  last RevokeSubject: its time and the kept session's ref;      RevocationTTL
//	                   sessions and refresh families authenticated before it
//	                   read as not found, so a sign-in in flight cannot outlive it
//	rate:<name>        one rate counter's sliding-window log (reset): sorted set    window+Slack
//	                   of <ms>-<random>, score = logical event time (ms); a         from the newest event;
//	                   failure counter (Strike) derives its hold from it            a failure counter's
//	                                                                                window+hold+Slack
//	sigkey:<name>      signing key bytes of earlier versions, SET NX; read once     none: must outlive any TTL
//	                   to migrate them into sigkeys
//	sigkeys            the signing key set (hash: v = version, d = sealed record),  none: must outlive any TTL
//	                   compare-and-set on v (Lua)
//	sigkeys:lease      the replica rotating the keys now, SET NX PX                 30s
//
// The store API takes the value the browser presents (cookie, URL) and
// hashes it; records loaded that way carry it in ID and their Ref beside
// it, neither serialised. Records point to one another by Ref:
// AuthRequest.SessionID, RefreshToken.SessionID, ResetFlow.KeepSession,
// ResetFlow.AuthRequestRef, the subject index, keep:<job>. A reset flow
// also needs its pending sign-in's id, to send the browser back to it: the
// store keeps it sealed (AES-GCM, key derived from the flow's id) so that
// only the browser holding the flow opens it. A copy of Redis therefore
// opens no session, flow or sign-in request.
//
// What each record holds about a person, and why:
//
//   - session: subject, the directory's claims (address, names, login) —
//     to complete later sign-ins without the directory and to greet the
//     person — authentication time and methods, the sites signed in to.
//   - auth request: the client's parameters (a login_hint may be an
//     address), then the subject, authentication time and methods, and
//     only the claims the requested scopes release, for the ID token.
//   - refresh family, access token: subject, scopes, authentication time
//     and methods, the claims of the request they came from.
//   - reset flow: the address as typed (to send a new code and count
//     requests), then, once it matched an account, the subject, login and
//     directory address the password writer needs; codes and link tokens
//     as keyed hashes only.
//   - index, grant, code, keep, link: identifiers and hashes, no claims.
//
// Atomicity: each family operation is one Lua script on one key; auth request
// and session updates use WATCH/MULTI on one key; a code is consumed by one
// script on its own key; a rate counter drops what left its window, counts
// and records in one script on its own key, so parallel requests never pass a
// limit together; a failure counter checks its hold and records the failure
// the same way, before the attempt is made (Strike). Index entries are written before the record they point
// to, so a crash leaves stale index members (pruned on read), never an
// unindexed record.
//
// Where every key lands in one place (a single server, a Sentinel-managed
// primary, or a Cluster with a hash-tag Prefix), the writes of one step of
// a sign-in are one script naming their keys (slot.go): the authorization
// request with its per-address count (admit); the session, its index, the
// completed request and its code (completeSignIn); the code spent with its
// session and the person's last revocation (consumeCodeFor); a record with
// its index and companions (indexedSets). Those scripts call the same Lua
// functions as the single-key scripts.
//
// Redis Cluster with the default Prefix: the keys spread over the masters,
// and no script, transaction or command of the store names two keys: the
// steps above become one single-key command per key, sent in one round trip
// (go-redis splits a pipeline by node), and RevokeSubject is a sequence of
// single-key commands. The names above need no hash tag (the family's
// {<family>} is one, so that companion keys could join it). Where scripts
// do share keys elsewhere, every key carries one hash tag so that they
// share a slot: {pwchange} for the change queue (idp/shared/job), {mail}
// for the outbox (idp/mail). A multi-key call across slots fails with
// CROSSSLOT; the conformance suite runs on a three-master Cluster to catch
// one, and again with a hash-tag Prefix. A Prefix that is itself a hash tag
// ("{idp}:") puts every key in one slot, on one master: a sign-in then
// costs the provider as few commands as on a single server.
//
// Sentinel: SigningKey and SaveSigningKeySet wait (WAIT) until a replica
// holds a new key before using it; see idp/shared/durable.
package store
