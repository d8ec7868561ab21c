package ldapauth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/ldapconn"
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
		began := time.Now()
		c, err := ldapconn.Dial(ctx, u, ldapconn.Dialing{
			Dialer: d.dialer, TLS: d.tls, StartTLS: d.cfg.StartTLS, Timeout: d.cfg.Timeout,
		})
		d.cfg.Observe("dial", began, err)
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
	began := time.Now()
	err := c.Bind(d.cfg.BindDN, d.cfg.BindPassword)
	d.cfg.Observe("service_bind", began, err)
	if err != nil {
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

// takeBind waits, at most Timeout, until fewer than PoolSize binds are in
// progress, and returns what ends this one's turn. A directory that
// answers so slowly that none ends in time is unavailable.
func (d *Directory) takeBind(ctx context.Context) (release func(), err error) {
	release = func() { <-d.binds }
	select {
	case d.binds <- struct{}{}:
		return release, nil
	default:
	}
	began := time.Now()
	t := time.NewTimer(d.cfg.Timeout)
	defer t.Stop()
	select {
	case d.binds <- struct{}{}:
		return release, nil
	case <-t.C:
		err = fmt.Errorf("%w: no bind connection free after %v", ErrUnavailable, d.cfg.Timeout)
	case <-ctx.Done():
		err = fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
	d.cfg.Observe("bind", began, err)
	return nil, err
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

// transient is ldapconn.Transient, under the name the package's callers use.
func transient(err error) bool { return ldapconn.Transient(err) }
