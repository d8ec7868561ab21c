package testenv

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one mail received by an SMTPSink.
type Message struct {
	From string
	To   []string
	Data []byte // the raw message as received after DATA (headers and body)
	// TLS reports whether the transaction ran over TLS (STARTTLS or implicit).
	TLS bool
	// AuthUser is the user name given with AUTH PLAIN, if the client authenticated.
	AuthUser string
}

// SMTPSecurity is the transport security an SMTPSink offers.
type SMTPSecurity int

const (
	// SMTPNoTLS: plain SMTP, no STARTTLS offered (the default).
	SMTPNoTLS SMTPSecurity = iota
	// SMTPStartTLS: plain SMTP that offers STARTTLS, as on port 587.
	SMTPStartTLS
	// SMTPImplicitTLS: TLS from the first byte, as on port 465.
	SMTPImplicitTLS
)

// SMTPOptions configures StartSMTPWith.
type SMTPOptions struct {
	Security SMTPSecurity
}

// SMTPSink is an in-process SMTP server on 127.0.0.1 that keeps every message.
// It requires no authentication; AUTH PLAIN is accepted with any credentials
// for clients that insist on authenticating. By default it offers no TLS; with
// SMTPStartTLS or SMTPImplicitTLS it serves a self-signed certificate for
// 127.0.0.1 and localhost, whose PEM is in CAFile.
//
// It can be stopped and started again on the same port (Stop, Start), made to
// refuse every transaction with a temporary 451 (SetTemporaryFailure), and
// made to refuse a recipient with a permanent 550 (RejectRecipient).
type SMTPSink struct {
	Addr   string // 127.0.0.1:PORT
	Host   string // 127.0.0.1
	Port   int
	CAFile string // PEM of the sink's certificate; empty without TLS

	t        testing.TB
	security SMTPSecurity
	tls      *tls.Config

	mu           sync.Mutex
	messages     []Message
	arrived      chan struct{} // closed and replaced on every new message
	tempFail     bool
	rejected     map[string]bool
	transactions int

	runMu sync.Mutex
	run   *sinkServer // nil while stopped
}

// sinkServer is one listening period of the sink, between Start and Stop.
type sinkServer struct {
	srv  *smtp.Server
	l    net.Listener
	done chan struct{} // closed when Serve has returned
}

// StartSMTP starts a sink without TLS; it is closed in t.Cleanup.
func StartSMTP(t testing.TB) *SMTPSink {
	t.Helper()
	return StartSMTPWith(t, SMTPOptions{})
}

// StartSMTPWith starts a sink with opts; it is closed in t.Cleanup.
func StartSMTPWith(t testing.TB, opts SMTPOptions) *SMTPSink {
	t.Helper()
	s := &SMTPSink{Host: "127.0.0.1", t: t, security: opts.Security, arrived: make(chan struct{}), rejected: map[string]bool{}}
	if opts.Security != SMTPNoTLS {
		s.tls, s.CAFile = selfSignedTLS(t)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: listen for SMTP: %v", err)
	}
	s.Addr, s.Port = l.Addr().String(), l.Addr().(*net.TCPAddr).Port
	s.serve(l)
	t.Cleanup(func() { s.Stop(t) })
	return s
}

// Stop closes the listener and every open connection: clients then get
// "connection refused" until Start. Stopping a stopped sink does nothing.
func (s *SMTPSink) Stop(t testing.TB) {
	t.Helper()
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if s.run == nil {
		return
	}
	_ = s.run.srv.Close()
	_ = s.run.l.Close() // in case Close ran before Serve registered l
	<-s.run.done
	s.run = nil
}

// Start listens again on the same port after Stop, keeping the messages
// received so far. Starting a running sink does nothing.
func (s *SMTPSink) Start(t testing.TB) {
	t.Helper()
	s.runMu.Lock()
	running := s.run != nil
	s.runMu.Unlock()
	if running {
		return
	}
	// The port may still be held for a moment after Stop.
	var l net.Listener
	Eventually(t, 5*time.Second, func() (bool, string) {
		var err error
		l, err = net.Listen("tcp", s.Addr)
		return err == nil, fmt.Sprintf("testenv: listen again for SMTP on %s: %v", s.Addr, err)
	})
	if l == nil {
		return // t was failed
	}
	s.serve(l)
}

func (s *SMTPSink) serve(l net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &sinkSession{sink: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.MaxMessageBytes = 10 << 20
	switch s.security {
	case SMTPStartTLS:
		srv.TLSConfig = s.tls
	case SMTPImplicitTLS:
		l = tls.NewListener(l, s.tls)
	}
	run := &sinkServer{srv: srv, l: l, done: make(chan struct{})}
	go func() {
		defer close(run.done)
		if err := srv.Serve(l); err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.t.Errorf("testenv: SMTP server: %v", err)
		}
	}()
	s.runMu.Lock()
	s.run = run
	s.runMu.Unlock()
}

// SetTemporaryFailure makes the sink refuse every transaction with
// "451 4.3.0" at MAIL FROM (on), or accept them again (off).
func (s *SMTPSink) SetTemporaryFailure(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tempFail = on
}

// RejectRecipient makes the sink refuse addr at RCPT TO with the permanent
// "550 5.1.1" (no such mailbox), for the rest of the test.
func (s *SMTPSink) RejectRecipient(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejected[strings.ToLower(addr)] = true
}

// Transactions is the number of MAIL FROM commands received, accepted or
// refused: it counts delivery attempts, including failed ones.
func (s *SMTPSink) Transactions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transactions
}

// Messages returns a copy of the messages received so far.
func (s *SMTPSink) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	for i, m := range s.messages {
		out[i] = m
		out[i].To, out[i].Data = slices.Clone(m.To), bytes.Clone(m.Data)
	}
	return out
}

// WaitForMessages waits until at least n messages arrived and returns them
// all; it fails the test after timeout.
func (s *SMTPSink) WaitForMessages(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got, arrived := len(s.messages), s.arrived
		s.mu.Unlock()
		if got >= n {
			return s.Messages()
		}
		select {
		case <-arrived:
		case <-deadline.C:
			t.Fatalf("testenv: got %d SMTP messages after %s, want %d", got, timeout, n)
			return nil
		}
	}
}

func (s *SMTPSink) add(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, m)
	close(s.arrived)
	s.arrived = make(chan struct{})
}

// sinkSession collects one SMTP transaction at a time.
type sinkSession struct {
	sink     *SMTPSink
	conn     *smtp.Conn
	authUser string
	from     string
	to       []string
}

var _ smtp.AuthSession = (*sinkSession)(nil)

func (ss *sinkSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *sinkSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, _ string) error {
		ss.authUser = user
		return nil
	}), nil
}

func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	s := ss.sink
	s.mu.Lock()
	s.transactions++
	fail := s.tempFail
	s.mu.Unlock()
	if fail {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure, try again later"}
	}
	ss.from = from
	return nil
}

func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s := ss.sink
	s.mu.Lock()
	rejected := s.rejected[strings.ToLower(to)]
	s.mu.Unlock()
	if rejected {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such mailbox"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := ss.conn.TLSConnectionState()
	ss.sink.add(Message{From: ss.from, To: ss.to, Data: data, TLS: isTLS, AuthUser: ss.authUser})
	ss.Reset()
	return nil
}

func (ss *sinkSession) Reset() {
	ss.from = ""
	ss.to = nil
}

func (ss *sinkSession) Logout() error { return nil }
