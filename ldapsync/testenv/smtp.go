package testenv

import (
	"bytes"
	"errors"
	"io"
	"net"
	"slices"
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
}

// SMTPSink is an in-process SMTP server on 127.0.0.1 that keeps every message.
// It offers no TLS and requires no authentication; AUTH PLAIN is accepted with
// any credentials for clients that insist on authenticating.
type SMTPSink struct {
	Addr string // 127.0.0.1:PORT
	Host string // 127.0.0.1
	Port int

	mu       sync.Mutex
	messages []Message
	arrived  chan struct{} // closed and replaced on every new message
}

// StartSMTP starts the sink; it is closed in t.Cleanup.
func StartSMTP(t testing.TB) *SMTPSink {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: listen for SMTP: %v", err)
	}
	s := &SMTPSink{Addr: l.Addr().String(), Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, arrived: make(chan struct{})}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &sinkSession{sink: s}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.MaxMessageBytes = 10 << 20
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			t.Errorf("testenv: SMTP server: %v", err)
		}
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		_ = l.Close() // in case Close ran before Serve registered l
		<-done
	})
	return s
}

// Messages returns a copy of the messages received so far.
func (s *SMTPSink) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	for i, m := range s.messages {
		out[i] = Message{From: m.From, To: slices.Clone(m.To), Data: bytes.Clone(m.Data)}
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
	sink *SMTPSink
	from string
	to   []string
}

var _ smtp.AuthSession = (*sinkSession)(nil)

func (ss *sinkSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *sinkSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(string, string, string) error { return nil }), nil
}

func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	return nil
}

func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.sink.add(Message{From: ss.from, To: ss.to, Data: data})
	ss.Reset()
	return nil
}

func (ss *sinkSession) Reset() {
	ss.from = ""
	ss.to = nil
}

func (ss *sinkSession) Logout() error { return nil }
