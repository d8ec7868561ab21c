package mail

import (
	"errors"
	"fmt"
	"net/mail"
)

// ErrInvalidMessage is wrapped by every error of Message.Validate: the
// caller built a message that must not be sent. Its text never quotes the
// address.
var ErrInvalidMessage = errors.New("mail: invalid message")

// Message is one mail to one person.
type Message struct {
	// To is exactly one recipient: a bare address (RFC 5322 addr-spec, no
	// display name, no list), at most 254 octets, without control
	// characters. It must come from the directory, never from what a
	// person typed.
	To      string
	Subject string // required, one line
	Text    string // text/plain part, required
	HTML    string // text/html part; optional (with it the mail is multipart/alternative)
}

// Limits of a Message.
const (
	maxAddressOctets = 254
	maxSubjectOctets = 256
	maxBodyOctets    = 256 << 10 // both parts together
)

// Validate checks m as Enqueue does; each problem wraps ErrInvalidMessage.
func (m Message) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidMessage}, args...)...))
	}
	switch a, err := mail.ParseAddress(m.To); {
	case m.To == "":
		bad("no recipient")
	case len(m.To) > maxAddressOctets:
		bad("recipient longer than %d octets", maxAddressOctets)
	case hasControl(m.To):
		bad("recipient holds control characters")
	case err != nil:
		bad("recipient is not an address")
	case a.Name != "" || a.Address != m.To:
		bad("recipient must be one bare address, without display name")
	}
	switch {
	case m.Subject == "":
		bad("no subject")
	case len(m.Subject) > maxSubjectOctets:
		bad("subject longer than %d octets", maxSubjectOctets)
	case hasControl(m.Subject):
		bad("subject holds control characters")
	}
	if m.Text == "" {
		bad("no text part")
	}
	if len(m.Text)+len(m.HTML) > maxBodyOctets {
		bad("body longer than %d octets", maxBodyOctets)
	}
	return errors.Join(errs...)
}
