package directory

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

// session is one connection bound as the writer account, used for one
// operation (or a short sequence) and closed after. go-ldap ignores
// contexts, so the connection is closed when ctx ends: close reports
// whether that happened.
type session struct {
	*ldap.Conn
	stop func() bool
}

// close closes the connection and reports whether ctx had ended first
// (and so closed it under a running request).
func (s *session) close() (ctxEnded bool) {
	ended := !s.stop()
	s.Conn.Close()
	return ended
}

// open dials the first URL that answers, starting with the last one that
// worked, and binds as the writer. Every failure wraps ErrUnavailable:
// nothing has been sent that could change the directory.
func (w *Writer) open(ctx context.Context) (*session, error) {
	n := len(w.urls)
	start := int(w.preferred.Load())
	var errs []error
	for i := range n {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		idx := (start + i) % n
		u := w.urls[idx]
		c, err := w.dialOne(ctx, u)
		if err == nil {
			if err = c.Bind(w.cfg.BindDN, w.cfg.BindPassword); err != nil {
				c.Close()
				if !transient(err) {
					w.log.Error("ldap writer bind refused: check BindDN and BindPassword", "url", u.Redacted(), "bind_dn", w.cfg.BindDN, "err", err)
				}
				err = fmt.Errorf("writer bind: %w", err)
			}
		}
		if err == nil {
			if idx != start {
				w.log.Info("ldap failover", "url", u.Redacted())
			}
			w.preferred.Store(int32(idx))
			return &session{Conn: c, stop: context.AfterFunc(ctx, func() { c.Close() })}, nil
		}
		w.log.Warn("ldap connection failed", "url", u.Redacted(), "err", err)
		errs = append(errs, fmt.Errorf("%s: %w", u.Redacted(), err))
	}
	return nil, fmt.Errorf("%w: %w", ErrUnavailable, errors.Join(errs...))
}

// dialOne opens one connection with TLS as configured. The TCP dial and
// the TLS handshakes are bounded by Timeout; so is every later request
// (SetTimeout), since go-ldap waits forever by default.
func (w *Writer) dialOne(ctx context.Context, u *url.URL) (*ldap.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = ldap.DefaultLdapPort
		if u.Scheme == "ldaps" {
			port = ldap.DefaultLdapsPort
		}
	}
	nc, err := w.dialer.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, ldap.NewError(ldap.ErrorNetwork, err)
	}
	isTLS := u.Scheme == "ldaps"
	if isTLS {
		tc := tls.Client(nc, w.tlsFor(host))
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, ldap.NewError(ldap.ErrorNetwork, fmt.Errorf("TLS handshake: %w", err))
		}
		nc = tc
	}
	c := ldap.NewConn(nc, isTLS)
	c.Start()
	c.SetTimeout(w.cfg.Timeout)
	if w.cfg.StartTLS {
		// go-ldap's StartTLS handshake has no deadline of its own.
		deadline, _ := ctx.Deadline()
		_ = nc.SetDeadline(deadline)
		err := c.StartTLS(w.tlsFor(host))
		_ = nc.SetDeadline(time.Time{})
		if err != nil {
			c.Close()
			return nil, ldap.NewError(ldap.ErrorNetwork, fmt.Errorf("StartTLS: %w", err))
		}
	}
	return c, nil
}

func (w *Writer) tlsFor(host string) *tls.Config {
	c := w.tls.Clone()
	c.ServerName = host // go-ldap's StartTLS sets no SNI nor verification name
	return c
}
