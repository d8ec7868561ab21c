package ldapauth

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/go-ldap/ldap/v3"
)

var errClosed = errors.New("ldapauth: directory closed")

// dial connects to the first URL that answers, starting with the last one
// that worked, and runs setup (the service bind) on it. Only failures that
// another replica could fix move on to the next URL.
func (d *Directory) dial(ctx context.Context, setup func(*ldap.Conn) error) (*ldap.Conn, error) {
	n := len(d.urls)
	start := int(d.preferred.Load())
	var errs []error
	for i := range n {
		idx := (start + i) % n
		u := d.urls[idx]
		c, err := d.dialOne(ctx, u)
		if err == nil && setup != nil {
			if err = setup(c); err != nil {
				c.Close()
			}
		}
		if err == nil {
			if idx != start {
				d.logger.Info("ldap failover", "url", u.Redacted())
			}
			d.preferred.Store(int32(idx))
			return c, nil
		}
		d.logger.Warn("ldap connection failed", "url", u.Redacted(), "error", err)
		errs = append(errs, fmt.Errorf("%s: %w", u.Redacted(), err))
		if !transient(err) || ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("%w: %w", ErrUnavailable, errors.Join(errs...))
}

// dialOne opens one connection with TLS as configured. The TCP dial and
// the TLS handshakes are bounded by Timeout; so is every later request
// (SetTimeout), since go-ldap waits forever by default.
func (d *Directory) dialOne(ctx context.Context, u *url.URL) (*ldap.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = ldap.DefaultLdapPort
		if u.Scheme == "ldaps" {
			port = ldap.DefaultLdapsPort
		}
	}
	nc, err := d.dialer.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, ldap.NewError(ldap.ErrorNetwork, err)
	}
	isTLS := u.Scheme == "ldaps"
	if isTLS {
		tc := tls.Client(nc, d.tlsFor(host))
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, ldap.NewError(ldap.ErrorNetwork, fmt.Errorf("TLS handshake: %w", err))
		}
		nc = tc
	}
	c := ldap.NewConn(nc, isTLS)
	c.Start()
	c.SetTimeout(d.cfg.Timeout)
	if d.cfg.StartTLS {
		// go-ldap's StartTLS handshake has no deadline of its own.
		deadline, _ := ctx.Deadline()
		_ = nc.SetDeadline(deadline)
		err := c.StartTLS(d.tlsFor(host))
		_ = nc.SetDeadline(time.Time{})
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("StartTLS: %w", err)
		}
	}
	return c, nil
}

func (d *Directory) tlsFor(host string) *tls.Config {
	c := d.tls.Clone()
	c.ServerName = host // go-ldap's StartTLS does not set SNI/verification name
	return c
}

// serviceConn returns the shared connection bound as the service account,
// dialling it when needed. Concurrent callers share one dial and its result.
func (d *Directory) serviceConn(ctx context.Context) (*ldap.Conn, error) {
	for {
		d.svcMu.Lock()
		if d.closed.Load() {
			d.svcMu.Unlock()
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, errClosed)
		}
		if c := d.svc; c != nil && !c.IsClosing() {
			d.svcMu.Unlock()
			return c, nil
		}
		if wait := d.svcDialing; wait != nil {
			d.svcMu.Unlock()
			select {
			case <-wait:
			case <-ctx.Done():
				return nil, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
			}
			d.svcMu.Lock()
			c, err := d.svc, d.svcErr
			d.svcMu.Unlock()
			if c == nil && err != nil {
				return nil, err
			}
			continue
		}
		if d.svc != nil { // closed by the server or after an error
			d.svc.Close()
			d.svc = nil
		}
		done := make(chan struct{})
		d.svcDialing = done
		d.svcMu.Unlock()

		// The dial serves every waiter, so one request's cancellation must
		// not abort it; Timeout bounds it.
		c, err := d.dial(context.WithoutCancel(ctx), d.bindService)

		d.svcMu.Lock()
		if err == nil && d.closed.Load() {
			c.Close()
			c, err = nil, fmt.Errorf("%w: %w", ErrUnavailable, errClosed)
		}
		d.svc, d.svcErr, d.svcDialing = c, err, nil
		close(done)
		d.svcMu.Unlock()
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}

func (d *Directory) bindService(c *ldap.Conn) error {
	if d.cfg.BindDN == "" {
		return nil
	}
	if err := c.Bind(d.cfg.BindDN, d.cfg.BindPassword); err != nil {
		if !transient(err) {
			d.logger.Error("ldap service account bind refused: check BindDN/BindPassword", "bind_dn", d.cfg.BindDN, "error", err)
		}
		return fmt.Errorf("service bind: %w", err)
	}
	return nil
}

// dropService forgets c if it is still the shared connection, so that the
// next caller dials again.
func (d *Directory) dropService(c *ldap.Conn) {
	d.svcMu.Lock()
	if d.svc == c {
		d.svc = nil
	}
	d.svcMu.Unlock()
	c.Close()
}

// getBindConn takes an idle bind connection or dials a new one; pooled
// reports which, since a pooled one may have been closed by the server.
func (d *Directory) getBindConn(ctx context.Context) (c *ldap.Conn, pooled bool, err error) {
	d.poolMu.Lock()
	for len(d.idle) > 0 {
		c = d.idle[len(d.idle)-1]
		d.idle = d.idle[:len(d.idle)-1]
		if !c.IsClosing() {
			d.poolMu.Unlock()
			return c, true, nil
		}
		c.Close()
	}
	d.poolMu.Unlock()
	c, err = d.dial(ctx, nil)
	return c, false, err
}

// putBindConn keeps c for the next check, or closes it when the pool is
// full or closed.
func (d *Directory) putBindConn(c *ldap.Conn) {
	d.poolMu.Lock()
	if !d.closed.Load() && !c.IsClosing() && len(d.idle) < d.cfg.PoolSize {
		d.idle = append(d.idle, c)
		c = nil
	}
	d.poolMu.Unlock()
	if c != nil {
		c.Close()
	}
}

// transient reports errors another attempt (or another replica) may fix:
// network failures and timeouts, busy or unavailable servers.
func transient(err error) bool {
	var le *ldap.Error
	if !errors.As(err, &le) {
		return true // go-ldap reports some write failures as plain errors
	}
	switch le.ResultCode {
	case ldap.ErrorNetwork, ldap.LDAPResultBusy, ldap.LDAPResultUnavailable,
		ldap.LDAPResultTimeLimitExceeded, ldap.LDAPResultAdminLimitExceeded,
		ldap.LDAPResultOther, ldap.LDAPResultTimeout, ldap.LDAPResultServerDown,
		ldap.LDAPResultConnectError:
		return true
	}
	return false
}
