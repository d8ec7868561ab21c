// Package audit writes the authentication events: one structured
// slog record per event, with a stable "audit" attribute naming it, the
// client address and the person's subject when known, and never a secret.
// What a person typed as identifier is logged only as a keyed hash
// (Identifiers): it is sometimes a password typed in the wrong field.
//
// Field values go through the logger's handler (JSON or text), which
// escapes line breaks; Log also drops control characters, so that no
// value can forge a second record whatever the handler.
package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/netip"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Name names an event; the values are stable (operators alert on them).
type Name string

// The events.
const (
	SignInSuccess Name = "signin.success"
	// SignInFailure: a password check that did not sign the person in.
	SignInFailure Name = "signin.failure"
	// SignInLockout: an account got locked by throttling, or an attempt was
	// refused because it is.
	SignInLockout Name = "signin.lockout"
	// SignInDelayed: an attempt refused because the account must wait a
	// little, or because its client address failed too often.
	SignInDelayed Name = "signin.delayed"
	// SignInUnavailable: the directory or Redis did not answer, so the
	// attempt could not be checked (nothing counted against the person).
	SignInUnavailable Name = "signin.unavailable"
	Logout            Name = "logout"

	// « Mot de passe perdu »: an address was submitted (ResetRequested,
	// whether or not it matches an account), a code was mailed, a code or
	// link was accepted or refused, a request was over a limit.
	ResetRequested    Name = "reset.requested"
	ResetMailed       Name = "reset.mailed"
	ResetCodeAccepted Name = "reset.code_accepted"
	ResetCodeRefused  Name = "reset.code_refused"
	ResetLimited      Name = "reset.limited"
	// ResetQueued: a new password was handed to the directory writer.
	ResetQueued Name = "reset.queued"
	// The directory writer settled the change (idp/completion): written,
	// refused by the directory's policy (Reason says why), or failed
	// (Reason says why).
	ResetWritten Name = "reset.written"
	ResetRefused Name = "reset.refused"
	ResetFailed  Name = "reset.failed"
	// ResetPartial: written in some directories and not in others (Targets
	// names those still holding the old password): IT must act. Logged at
	// Error.
	ResetPartial Name = "reset.partial"

	// Change while signed in or at sign-in: the current password was
	// checked and the new-password step started (Reason: why), or the
	// current password typed was wrong (nothing queued). What follows is
	// logged as for a reset (reset.queued, reset.written…).
	PasswordChangeStarted Name = "password.change_started"
	PasswordChangeRefused Name = "password.change_refused"
)

// Event is one audit record. Empty fields are left out.
type Event struct {
	Name Name
	// Subject is the person's stable identifier, when known.
	Subject  string
	ClientID string
	// IP is the client address (see web.ClientIP).
	IP netip.Addr
	// Reason is a short word saying why, e.g. "invalid_credentials".
	Reason string
	// Identifier is Identifiers.Hash of what was typed, never the text.
	Identifier string
	RequestID  string
	// Targets names directory targets (configuration names, not people).
	Targets []string
	// Source is who vouched for the person at sign-in: an upstream
	// provider's id (logged as idp); empty for the directory's form.
	Source string
}

// Log writes e as one record, at Warn for lockouts and Info otherwise.
func Log(ctx context.Context, logger *slog.Logger, e Event) {
	level := slog.LevelInfo
	switch e.Name {
	case SignInLockout, SignInUnavailable:
		level = slog.LevelWarn
	case ResetPartial:
		level = slog.LevelError
	}
	attrs := make([]slog.Attr, 0, 8)
	add := func(key, value string) {
		if value = clean(value); value != "" {
			attrs = append(attrs, slog.String(key, value))
		}
	}
	add("audit", string(e.Name))
	add("sub", e.Subject)
	add("client_id", e.ClientID)
	if e.IP.IsValid() {
		attrs = append(attrs, slog.String("ip", e.IP.String()))
	}
	add("reason", e.Reason)
	add("identifier", e.Identifier)
	add("request_id", e.RequestID)
	add("targets", strings.Join(e.Targets, ","))
	add("idp", e.Source)
	logger.LogAttrs(ctx, level, "audit", attrs...)
}

// clean drops control characters (CR, LF, NUL…).
func clean(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}

// Identifiers hashes typed identifiers with a key, so that the hash of a
// password typed as identifier cannot be reversed by trying guesses
// without the key. The same identifier always gives the same hash, so
// records and throttling counters can be matched.
type Identifiers struct{ key []byte }

// NewIdentifiers derives its key from secret (a key shared by every
// replica, such as the cookie key), so the hash is the same everywhere.
func NewIdentifiers(secret []byte) Identifiers {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("idp/audit identifier hash v1"))
	return Identifiers{key: m.Sum(nil)}
}

// Hash returns 128 bits of HMAC-SHA-256 of Normalize(typed), in hex.
func (i Identifiers) Hash(typed string) string {
	m := hmac.New(sha256.New, i.key)
	m.Write([]byte(Normalize(typed)))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// Normalize maps the ways of typing one identifier to one string, roughly
// as the directory compares them (RFC 4518): compatibility-normalized,
// lower case, spaces trimmed and collapsed.
func Normalize(typed string) string {
	return strings.Join(strings.Fields(strings.ToLower(norm.NFKC.String(typed))), " ")
}
