package directory

import (
	"errors"
	"fmt"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/ldapconn"
)

// Errors callers branch on (errors.Is). A refusal by the password policy
// is a *PolicyError, which is ErrRejectedByPolicy.
var (
	// ErrRejectedByPolicy: the directory's password policy refused the new
	// password; errors.As gives the *PolicyError with the reason.
	ErrRejectedByPolicy = errors.New("directory: new password rejected by the password policy")
	// ErrNoSuchUser: the login names no entry, or more than one, or the
	// entry disappeared before the write.
	ErrNoSuchUser = errors.New("directory: no such user")
	// ErrUnavailable: temporary; the directory could not be reached, timed
	// out, was busy, or the writer account could not bind. Nothing was
	// applied, unless the error is also ErrOutcomeUnknown.
	ErrUnavailable = errors.New("directory: unavailable")
	// ErrOutcomeUnknown comes with ErrUnavailable: the write was sent, the
	// answer was lost, and the directory could not be asked afterwards
	// whether it was applied.
	ErrOutcomeUnknown = errors.New("directory: write sent, outcome unknown")
	// ErrRefused: the directory refused the operation itself (the writer
	// lacks rights, a bad DN, ...): a configuration problem, not temporary.
	ErrRefused = errors.New("directory: operation refused")
)

// PolicyError is a new password refused by the directory's password
// policy (OpenLDAP ppolicy, Behera draft).
type PolicyError struct {
	// Code is the ppolicy error of the response control:
	// ldap.BeheraInsufficientPasswordQuality (5), BeheraPasswordTooShort
	// (6), BeheraPasswordTooYoung (7), BeheraPasswordInHistory (8),
	// PasswordTooLong (9), ...;
	// -1 when the directory gave no detail (a constraint violation
	// without the control).
	Code int8
	// ResultCode is the LDAP result (19, constraint violation, usually).
	ResultCode uint16
}

func (e *PolicyError) Error() string {
	detail := "no detail"
	if text, ok := ldap.BeheraPasswordPolicyErrorMap[e.Code]; ok {
		detail = text
	} else if e.Code == PasswordTooLong {
		detail = "Password is too long for policy"
	}
	return fmt.Sprintf("%s: %s (ppolicy %d, LDAP result %d)", ErrRejectedByPolicy, detail, e.Code, e.ResultCode)
}

// Is makes errors.Is(err, ErrRejectedByPolicy) true.
func (e *PolicyError) Is(target error) bool { return target == ErrRejectedByPolicy }

// PasswordTooLong is the ppolicy error passwordTooLong (pwdMaxLength,
// OpenLDAP 2.5 and later). go-ldap v3.4.15 knows the errors 0 to 8 only
// and drops a control carrying this one, hence ppolicyError.
const PasswordTooLong int8 = 9

// ppolicyError returns the error of the ppolicy response control of a
// failed operation, or -1 when there is none. go-ldap drops response
// controls when Extended or Modify fail; they are still in the response
// packet kept in the *ldap.Error. The control is decoded here rather than
// by ldap.DecodeControl, which refuses errors above 8.
func ppolicyError(err error) int8 {
	var le *ldap.Error
	if !errors.As(err, &le) || le.Packet == nil || len(le.Packet.Children) < 3 {
		return -1
	}
	for _, ctrl := range le.Packet.Children[2].Children {
		if len(ctrl.Children) < 2 {
			continue
		}
		if oid, _ := ctrl.Children[0].Value.(string); oid != ldap.ControlTypeBeheraPasswordPolicy {
			continue
		}
		// PasswordPolicyResponseValue ::= SEQUENCE { warning [0] ... OPTIONAL,
		//   error [1] ENUMERATED OPTIONAL }, inside the controlValue.
		seq, derr := ber.DecodePacketErr(ctrl.Children[len(ctrl.Children)-1].Data.Bytes())
		if derr != nil {
			continue
		}
		for _, f := range seq.Children {
			if b := f.Data.Bytes(); f.ClassType == ber.ClassContext && f.Tag == 1 && len(b) == 1 && b[0] < 0x80 {
				return int8(b[0])
			}
		}
	}
	return -1
}

// transient is ldapconn.Transient, under the name the package's callers use.
func transient(err error) bool { return ldapconn.Transient(err) }
