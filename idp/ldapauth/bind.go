package ldapauth

import (
	"context"
	"fmt"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// bindResult is the outcome of a password check. policy keeps what the
// ppolicy response control said (expired, grace logins, must change after
// reset, locked); Verify turns it into a Result.
type bindResult struct {
	ok     bool
	policy passwordPolicy
}

// passwordPolicy mirrors ldap.ControlBeheraPasswordPolicy; -1 means absent.
type passwordPolicy struct {
	present bool
	expire  int64 // seconds until the password expires
	grace   int64 // grace logins left after expiry
	err     int8  // ldap.BeheraPasswordExpired, BeheraAccountLocked, BeheraChangeAfterReset, ...
}

func policyFrom(controls []ldap.Control) passwordPolicy {
	pp, _ := ldap.FindControl(controls, ldap.ControlTypeBeheraPasswordPolicy).(*ldap.ControlBeheraPasswordPolicy)
	if pp == nil {
		return passwordPolicy{expire: -1, grace: -1, err: -1}
	}
	return passwordPolicy{present: true, expire: pp.Expire, grace: pp.Grace, err: pp.Error}
}

// checkPassword binds as dn on a pooled bind connection, never on the
// service connection. A stale pooled connection (closed by the server) is
// replaced by a fresh one once.
func (d *Directory) checkPassword(ctx context.Context, dn, password string) (bindResult, error) {
	if password == "" {
		return bindResult{}, nil // see Authenticate: never an unauthenticated bind
	}
	release, err := d.takeBind(ctx)
	if err != nil {
		return bindResult{}, err
	}
	defer release()
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return bindResult{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		c, pooled, err := d.getBindConn(ctx)
		if err != nil {
			return bindResult{}, err
		}
		// go-ldap ignores contexts: closing the connection is the only way
		// to stop a bind when the caller gives up.
		stop := context.AfterFunc(ctx, func() { c.Close() })
		began := time.Now()
		res, err := c.SimpleBind(ldap.NewSimpleBindRequest(dn, password,
			[]ldap.Control{ldap.NewControlBeheraPasswordPolicy()}))
		stopped := stop()
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			d.cfg.Observe("bind", began, nil) // an answer: the password is wrong
		} else {
			d.cfg.Observe("bind", began, err)
		}
		var controls []ldap.Control
		if res != nil {
			controls = res.Controls // present even when the bind failed
		}

		switch {
		case err == nil:
			d.putBindConn(c)
			return bindResult{ok: true, policy: policyFrom(controls)}, nil
		case ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials):
			d.putBindConn(c)
			pol := policyFrom(controls)
			if pol.err >= 0 {
				d.logger.Debug("ldap bind refused by password policy", "dn", dn, "reason", ldap.BeheraPasswordPolicyErrorMap[pol.err])
			}
			return bindResult{policy: pol}, nil
		case !stopped || c.IsClosing() || transient(err):
			c.Close()
			if pooled && attempt == 0 && stopped {
				continue // the server had closed the idle connection
			}
			if !stopped {
				return bindResult{}, fmt.Errorf("%w: bind: %w", ErrUnavailable, ctx.Err())
			}
			return bindResult{}, fmt.Errorf("%w: bind: %w", ErrUnavailable, err)
		default:
			// Other refusals (unwilling to perform, invalid DN syntax, ...)
			// are refusals too, but worth a look by an operator.
			d.putBindConn(c)
			d.logger.Warn("ldap bind refused", "dn", dn, "error", err)
			return bindResult{}, nil
		}
	}
}
