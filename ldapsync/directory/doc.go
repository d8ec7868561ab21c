// Package directory writes passwords into a directory for ldapsync. Writer
// is the OpenLDAP writer: as a dedicated non-root account (Config.BindDN)
// it finds the person's entry by login (uid or mail, escaped filter, in
// Config.UserFilter) and sets the new password with the RFC 3062 Password
// Modify extended operation, carrying the Behera ppolicy request control,
// so the directory hashes the password and applies its policy
// (length, history, age, quality) as it would for the person.
//
// Outcomes are typed, for the worker to decide without parsing text:
// *PolicyError (ErrRejectedByPolicy) with the ppolicy error code, read
// from the failed response's controls, which go-ldap only keeps in the
// *ldap.Error's packet; ErrNoSuchUser; ErrUnavailable for anything
// temporary (network, timeouts, busy, the writer's bind); ErrRefused for a
// refusal of the writer itself (rights, configuration).
//
// A write whose answer is lost (the connection broke or timed out after
// the request was sent) may or may not have been applied. Write then reads
// the entry again as the writer and compares its pwdChangedTime, which
// ppolicy sets on every change, with the value read by Lookup before the
// write: changed means applied. It never binds as the person to find out,
// which would count towards lockout. The worker keeps that "mark" in the
// queue, so a worker that takes over a job after a crash can ask the same
// question with Changed. pwdChangedTime has a resolution of one second: a
// change in the same second as the previous one is not seen (writes of one
// person are seconds apart in practice), and a directory without ppolicy
// never shows a change (resending the same password there is harmless).
//
// Policy reads a ppolicy entry (pwdMinLength, pwdMaxLength,
// pwdCheckQuality) as the writer, for the worker to publish what each
// directory will accept.
//
// Every call dials (with failover over Config.URLs, starting with the last
// that worked) and binds anew, with Config.Timeout on the dial, the TLS
// handshakes and each request; the connection is closed when the caller's
// context ends, since go-ldap has no context support. Nothing is logged
// that contains a password.
package directory
