package directory

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// passwordModifyOID is the RFC 3062 Password Modify extended operation.
const passwordModifyOID = "1.3.6.1.4.1.4203.1.11.1"

// markAttribute is set by ppolicy on every password change; the writer
// account can read it, and reading it counts towards nothing.
const markAttribute = "pwdChangedTime"

// maxLoginBytes bounds what is sent to the directory; no real login is longer.
const maxLoginBytes = 256

// Writer sets passwords in one OpenLDAP directory as the writer account.
// It is safe for concurrent use. It holds no connection between calls:
// each call dials (with failover) and binds, so New succeeds while the
// directory is down and nothing goes stale.
type Writer struct {
	cfg       Config
	urls      []*url.URL
	tls       *tls.Config // nil when no URL needs TLS
	log       *slog.Logger
	dialer    net.Dialer
	preferred atomic.Int32 // index in urls of the last one that worked
}

// New checks cfg and returns a Writer; it does not connect. A nil log
// discards.
func New(cfg Config, log *slog.Logger) (*Writer, error) {
	cfg, urls, tlsCfg, err := cfg.prepare()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Writer{
		cfg: cfg, urls: urls, tls: tlsCfg,
		log:    log.With("component", "ldapsync/directory"),
		dialer: net.Dialer{Timeout: cfg.Timeout},
	}, nil
}

// Entry is the directory entry a login names.
type Entry struct {
	DN      string
	Subject string // the value of Config.SubjectAttribute ("" when absent)
	// Mark is what the entry showed of its last password change when it
	// was read (its pwdChangedTime); Changed compares with it. Never empty.
	Mark string
}

// SetPassword finds login's entry and sets its password: Lookup, then
// Write. See Write for the errors.
func (w *Writer) SetPassword(ctx context.Context, login, newPassword string) error {
	e, err := w.Lookup(ctx, login)
	if err != nil {
		return err
	}
	return w.Write(ctx, e, newPassword)
}

// Lookup finds the one entry login names (by UserFilter, escaped) and
// reads its subject and mark. No entry, or several, is ErrNoSuchUser.
func (w *Writer) Lookup(ctx context.Context, login string) (Entry, error) {
	if !validLogin(login) {
		return Entry{}, ErrNoSuchUser
	}
	filter := strings.ReplaceAll(w.cfg.UserFilter, loginPlaceholder, ldap.EscapeFilter(login))
	entries, err := w.search(ctx, w.cfg.BaseDN, ldap.ScopeWholeSubtree, filter, w.entryAttributes())
	if err != nil {
		return Entry{}, err
	}
	switch len(entries) {
	case 1:
		return w.entry(entries[0]), nil
	case 0:
		return Entry{}, ErrNoSuchUser
	}
	w.log.Warn("ldap login matches several entries; not written")
	return Entry{}, ErrNoSuchUser
}

// Changed reports whether e's password was changed since e was read (its
// mark differs now), by reading the entry as the writer, never by a bind
// as the person (which would count towards lockout). ppolicy stamps
// pwdChangedTime to the second: a change within the same second as the
// previous one is not seen.
func (w *Writer) Changed(ctx context.Context, e Entry) (bool, error) {
	if e.DN == "" || e.Mark == "" {
		return false, errors.New("directory: Changed needs an entry from Lookup")
	}
	entries, err := w.search(ctx, e.DN, ldap.ScopeBaseObject, "(objectClass=*)", w.entryAttributes())
	if err != nil {
		return false, err
	}
	if len(entries) != 1 {
		return false, ErrNoSuchUser
	}
	return w.entry(entries[0]).Mark != e.Mark, nil
}

// Write sets e's password to newPassword with the RFC 3062 Password
// Modify extended operation carrying the ppolicy request control, so that
// the directory hashes it and applies its policy. Errors:
//
//   - *PolicyError (ErrRejectedByPolicy): the policy refused it, with why;
//   - ErrNoSuchUser: the entry is gone;
//   - ErrUnavailable: nothing was applied, try again later. When the
//     connection broke or timed out after the request was sent, Write
//     first reads the entry again: if its mark changed the write was
//     applied and Write returns nil; if the entry cannot be read either,
//     the error is also ErrOutcomeUnknown;
//   - ErrRefused: the directory refused the writer (rights, configuration).
func (w *Writer) Write(ctx context.Context, e Entry, newPassword string) error {
	switch {
	case newPassword == "":
		// An empty newPasswd asks the server to generate one (RFC 3062).
		return fmt.Errorf("%w: empty new password", ErrRefused)
	case e.DN == "" || e.Mark == "":
		return errors.New("directory: Write needs an entry from Lookup")
	}
	s, err := w.open(ctx)
	if err != nil {
		return err
	}
	began := time.Now()
	_, err = s.Extended(passwordModify(e.DN, newPassword))
	ctxEnded := s.close()
	if ppolicyError(err) >= 0 || ldap.IsErrorWithCode(err, ldap.LDAPResultConstraintViolation) {
		w.cfg.Observe("password_modify", began, nil) // the policy's answer
	} else {
		w.cfg.Observe("password_modify", began, err)
	}
	if err == nil {
		return nil
	}
	if code := ppolicyError(err); code >= 0 {
		var le *ldap.Error
		errors.As(err, &le)
		return &PolicyError{Code: code, ResultCode: le.ResultCode}
	}
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultConstraintViolation):
		return &PolicyError{Code: -1, ResultCode: ldap.LDAPResultConstraintViolation}
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return ErrNoSuchUser
	case ctxEnded || transient(err):
		return w.afterLostAnswer(ctx, e, err)
	}
	w.log.Error("ldap password modify refused", "dn", e.DN, "err", err)
	return fmt.Errorf("%w: password modify: %w", ErrRefused, err)
}

// afterLostAnswer finds out whether a write whose answer was lost was
// applied, on a new connection, even when ctx has ended (bounded by
// twice the Timeout: a dial and a search).
func (w *Writer) afterLostAnswer(ctx context.Context, e Entry, sendErr error) error {
	vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*w.cfg.Timeout)
	defer cancel()
	changed, err := w.Changed(vctx, e)
	switch {
	case err != nil:
		w.log.Warn("ldap password modify: answer lost and the entry cannot be read; outcome unknown", "dn", e.DN, "err", sendErr, "check_err", err)
		return fmt.Errorf("%w: %w: password modify: %w (check: %w)", ErrUnavailable, ErrOutcomeUnknown, sendErr, err)
	case changed:
		w.log.Info("ldap password modify: answer lost, the entry shows it applied", "dn", e.DN, "err", sendErr)
		return nil
	}
	return fmt.Errorf("%w: password modify (not applied): %w", ErrUnavailable, sendErr)
}

// passwordModify builds the exop: PasswdModifyRequestValue ::= SEQUENCE {
// userIdentity [0] OCTET STRING, newPasswd [2] OCTET STRING } (no
// oldPasswd: the writer account has the right to set it), with the
// ppolicy request control so that refusals come with their reason.
// go-ldap wraps the sequence as the [1] requestValue.
func passwordModify(dn, newPassword string) *ldap.ExtendedRequest {
	v := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "PasswdModifyRequestValue")
	v.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, dn, "userIdentity"))
	v.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 2, newPassword, "newPasswd"))
	return &ldap.ExtendedRequest{
		Name:     passwordModifyOID,
		Value:    v,
		Controls: []ldap.Control{ldap.NewControlBeheraPasswordPolicy()},
	}
}

// entryAttributes are what Lookup and Changed read of a person.
func (w *Writer) entryAttributes() []string { return []string{w.cfg.SubjectAttribute, markAttribute} }

// search runs one search as the writer for attrs. A size limit of 2 tells
// "exactly one" from "several"; a missing base object is no entry.
func (w *Writer) search(ctx context.Context, base string, scope int, filter string, attrs []string) ([]*ldap.Entry, error) {
	s, err := w.open(ctx)
	if err != nil {
		return nil, err
	}
	timeLimit := max(int(w.cfg.Timeout.Seconds()), 1)
	began := time.Now()
	res, err := s.Search(ldap.NewSearchRequest(base, scope, ldap.NeverDerefAliases, 2, timeLimit, false,
		filter, attrs, nil))
	ctxEnded := s.close()
	if ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) || ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		w.cfg.Observe("search", began, nil)
	} else {
		w.cfg.Observe("search", began, err)
	}
	switch {
	case err == nil:
		return res.Entries, nil
	case ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded):
		w.log.Warn("ldap login matches several entries; not written")
		return nil, ErrNoSuchUser
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) && scope == ldap.ScopeBaseObject:
		return nil, nil
	case ctxEnded || transient(err):
		return nil, fmt.Errorf("%w: search: %w", ErrUnavailable, err)
	}
	w.log.Error("ldap search refused: check BaseDN and the writer's rights", "base", base, "err", err)
	return nil, fmt.Errorf("%w: search: %w", ErrRefused, err)
}

func (w *Writer) entry(e *ldap.Entry) Entry {
	return Entry{
		DN:      e.DN,
		Subject: e.GetEqualFoldAttributeValue(w.cfg.SubjectAttribute),
		Mark:    markAttribute + "=" + strings.Join(e.GetEqualFoldAttributeValues(markAttribute), ","),
	}
}

func validLogin(login string) bool {
	if login == "" || len(login) > maxLoginBytes || !utf8.ValidString(login) {
		return false
	}
	return strings.IndexFunc(login, unicode.IsControl) < 0
}
