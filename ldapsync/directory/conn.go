package directory

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/ldapconn"
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
		began := time.Now()
		c, err := ldapconn.Dial(ctx, u, ldapconn.Dialing{
			Dialer: w.dialer, TLS: w.tls, StartTLS: w.cfg.StartTLS, Timeout: w.cfg.Timeout,
		})
		w.cfg.Observe("dial", began, err)
		if err == nil {
			began := time.Now()
			err = c.Bind(w.cfg.BindDN, w.cfg.BindPassword)
			w.cfg.Observe("bind", began, err)
			if err != nil {
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
