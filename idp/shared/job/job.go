package job

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Errors callers branch on. Every other error wraps the Redis error with %w.
var (
	// ErrEmpty: Claim found no job that is due.
	ErrEmpty = errors.New("job: queue empty")
	// ErrNotFound: no such status (never queued, or its life is over).
	ErrNotFound = errors.New("job: not found")
	// ErrLeaseLost: the job is no longer held by this claim (its lease
	// expired and it was reclaimed, or it was settled already).
	ErrLeaseLost = errors.New("job: lease lost")
	// ErrConflict: a job with this id exists already.
	ErrConflict = errors.New("job: id already used")
	// ErrPending is wrapped by *PendingError: the person has a change in
	// progress already.
	ErrPending = errors.New("job: a change is pending for this subject")
	// ErrSuperseded: a change of the same person was written at or after
	// the job's Since (Enqueue): the job is not queued.
	ErrSuperseded = errors.New("job: a later change of this subject was written")
	// ErrInvalid: a job or status is malformed (missing field, bad id, ...).
	ErrInvalid = errors.New("job: invalid")
	// ErrUnreadable: a sealed password cannot be opened with these keys,
	// or it was not sealed for this job.
	ErrUnreadable = errors.New("job: sealed password unreadable")
	// ErrReplayed: Claim met a job whose ID was settled already (a copy
	// queued again) and dropped it.
	ErrReplayed = errors.New("job: id settled already")
)

// PendingError is Enqueue's answer when the subject has an unsettled job:
// only one change per person runs at a time, so two changes can never be
// applied in the wrong order. JobID is the pending one, whose status the
// caller can follow instead.
type PendingError struct{ JobID string }

func (e *PendingError) Error() string { return ErrPending.Error() + ": " + e.JobID }

// Is makes errors.Is(err, ErrPending) true.
func (e *PendingError) Is(target error) bool { return target == ErrPending }

// State is where a job stands, or one of its targets (TargetOutcome).
type State string

const (
	Queued   State = "queued"   // waiting for a worker (first time, or after a retryable failure); for a target: not written yet
	Running  State = "running"  // held by a worker
	Done     State = "done"     // the directory applied the new password (every target, when there are several)
	Rejected State = "rejected" // the directory's policy refused it (Reason says why) and no target was written; the person picks another
	Failed   State = "failed"   // given up (Reason says why); the password was not changed, unless Reason is ReasonUnconfirmed
	// Partial: the new password was written to at least one target and
	// not to at least one other (refused by its policy, or failed); Reason
	// is the first failing target's, Status.Targets tell which is which.
	Partial State = "partial"
)

// Settled reports whether s is final: done, rejected, failed or partial.
func (s State) Settled() bool { return s == Done || s == Rejected || s == Failed || s == Partial }

// Reason qualifies Rejected and Failed, and Queued after a failed attempt.
// The web tier maps it to what the person reads.
type Reason string

const (
	ReasonNone Reason = ""
	// Rejected by the directory's password policy (ppolicy).
	ReasonTooShort  Reason = "too_short"  // passwordTooShort
	ReasonTooLong   Reason = "too_long"   // passwordTooLong (pwdMaxLength, OpenLDAP 2.5 and later)
	ReasonInHistory Reason = "in_history" // passwordInHistory: the current one or a recent one
	ReasonTooYoung  Reason = "too_young"  // passwordTooYoung: changed too recently
	ReasonQuality   Reason = "quality"    // insufficientPasswordQuality
	ReasonPolicy    Reason = "policy"     // refused by the policy without (or with another) detail
	// Failed.
	ReasonNoSuchUser  Reason = "no_such_user" // the login names nobody (any more), or another person
	ReasonUnavailable Reason = "unavailable"  // the directory could not be reached (also on Queued while retrying)
	ReasonUnconfirmed Reason = "unconfirmed"  // a write was sent but whether it was applied could not be checked
	ReasonExpired     Reason = "expired"      // the job's ExpiresAt passed before it could be written
	ReasonUnreadable  Reason = "unreadable"   // the sealed password could not be opened (wrong key)
	// The job is not signed by the web tier's key, or was altered in
	// Redis: forged, never written.
	ReasonUnauthenticated Reason = "unauthenticated"
	ReasonRefused         Reason = "refused" // the directory refused the writer itself (rights, configuration)
)

// Job is one password change. The web tier fills ID, Subject, Login,
// Mail (optional), Sealed (see Sealer), CreatedAt and ExpiresAt, then
// Signature (see Signer); Claim fills the rest.
type Job struct {
	ID      string // NewID(): 22 base64url characters
	Subject string // the person's sub, checked against the entry the login finds
	Login   string // the person's uid: how most directories find the person
	// Mail is the person's address, optional: for the targets that find
	// people by mail (find_by: mail). A job without it fails there.
	Mail   string
	Sealed []byte // the new password, sealed to the worker's public key for this job
	// Signature is the web tier's over all of the above (see Signer): the
	// worker writes nothing that it does not verify.
	Signature []byte

	CreatedAt time.Time
	// ExpiresAt: no write starts after it. The web tier sets it no later
	// than the end of the person's flow.
	ExpiresAt time.Time
	// Since, when set, is when the person's right to this change began
	// (the start of their flow): a change of theirs written at or after it
	// wins, and Enqueue refuses this one (ErrSuperseded). Read by Enqueue
	// only, never stored.
	Since time.Time

	// Set by Claim.
	Attempt    int       // 1 for the first claim, counting reclaims after a crash
	Worker     string    // who holds it
	LeaseUntil time.Time // the lease ends then, unless renewed
	// Marks are what earlier attempts recorded (Queue.Mark) just before
	// their first write to a target, by target name: a later attempt
	// compares a target's mark with its directory to find out whether an
	// earlier write there was applied. Nil when none.
	Marks map[string]string
	// Outcomes are the targets already settled by earlier attempts
	// (Queue.Record), by target name: a later attempt does not try them
	// again. Their Label is as recorded. Nil when none.
	Outcomes map[string]TargetOutcome

	token string // fences this claim: Complete, Retry, Renew, Mark and Record check it
}

// TargetOutcome is where one target (one directory written to) stands in
// a job: Done, Rejected or Failed once settled there, with the reason, or
// Queued while it was not written yet (Reason then says why, if an
// attempt failed). It never holds a secret.
type TargetOutcome struct {
	Name   string `json:"name"`  // the target's short id, [a-z0-9_-]
	Label  string `json:"label"` // what the person reads, e.g. « l’annuaire des usagers »
	State  State  `json:"state"`
	Reason Reason `json:"reason"`
}

// Status is what the waiting screen follows. It never holds a secret.
type Status struct {
	JobID     string
	State     State
	Reason    Reason
	Attempts  int
	UpdatedAt time.Time
	// Targets are the job's targets in the worker's order, as far as
	// known: nil until a worker recorded progress.
	Targets []TargetOutcome
}

// NewID returns a 128-bit random job id, base64url without padding.
func NewID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it crashes the program instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Limits on what a job carries.
const (
	maxLoginBytes     = 256
	maxSubjectBytes   = 256
	maxSealedBytes    = 8 << 10
	maxSignatureBytes = 64
	maxTargetName     = 32
)

// ValidTargetName reports whether name can name a target: 1 to 32
// characters among a-z, 0-9, '_' and '-' (it becomes part of Redis field
// names).
func ValidTargetName(name string) bool {
	if name == "" || len(name) > maxTargetName {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validID reports whether id is 16 to 64 base64url characters: safe in a
// key name and next to ':' separators.
func validID(id string) bool {
	if len(id) < 16 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validText reports whether s is non-empty UTF-8 of at most limit bytes
// without control characters.
func validText(s string, limit int) bool {
	return s != "" && len(s) <= limit && utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0
}

// check reports what is wrong with a job about to be queued at now.
func (j *Job) check(now time.Time) error {
	var errs []string
	if !validID(j.ID) {
		errs = append(errs, "id is not 16 to 64 base64url characters")
	}
	if !validText(j.Subject, maxSubjectBytes) {
		errs = append(errs, "bad subject")
	}
	if !validText(j.Login, maxLoginBytes) {
		errs = append(errs, "bad login")
	}
	if j.Mail != "" && !validText(j.Mail, maxLoginBytes) {
		errs = append(errs, "bad mail")
	}
	if len(j.Sealed) == 0 || len(j.Sealed) > maxSealedBytes {
		errs = append(errs, "no sealed password, or too large")
	}
	if len(j.Signature) > maxSignatureBytes {
		errs = append(errs, "signature too large")
	}
	if j.ExpiresAt.IsZero() || !j.ExpiresAt.After(now) {
		errs = append(errs, "ExpiresAt missing or past")
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: job %q: %s", ErrInvalid, j.ID, strings.Join(errs, "; "))
	}
	return nil
}
