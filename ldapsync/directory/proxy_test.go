package directory

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// proxyMode says what a lossyProxy does to a Password Modify request.
type proxyMode int

const (
	pass          proxyMode = iota // forward everything
	dropRequest                    // swallow the request and close the connection
	dropAnswer                     // forward the request, swallow the answer, close
	holdRequest                    // swallow the request, keep the connection open
	holdAnswer                     // forward the request, swallow the answer, keep it open
	dropAnswerAll                  // dropAnswer, then refuse every new connection
)

// lossyProxy sits between a Writer and slapd and loses extended
// requests or their answers, as a broken network would.
type lossyProxy struct {
	URL      string
	upstream string
	mode     proxyMode
	l        net.Listener

	mu    sync.Mutex
	conns []net.Conn
	dead  bool
}

func startProxy(t *testing.T, upstreamURL string, mode proxyMode) *lossyProxy {
	t.Helper()
	u := upstreamURL[len("ldap://"):]
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &lossyProxy{URL: "ldap://" + l.Addr().String(), upstream: u, mode: mode, l: l}
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *lossyProxy) close() {
	p.l.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

func (p *lossyProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns = append(p.conns, c)
	return !p.dead
}

func (p *lossyProxy) serve() {
	for {
		client, err := p.l.Accept()
		if err != nil {
			return
		}
		if !p.track(client) {
			client.Close()
			continue
		}
		server, err := net.Dial("tcp", p.upstream)
		if err != nil {
			client.Close()
			continue
		}
		p.track(server)
		go p.pipe(client, server)
	}
}

// readMessage reads one LDAP message, returning its exact bytes and
// whether its protocolOp has the given application tag.
func readMessage(r io.Reader, tag ber.Tag) ([]byte, bool, error) {
	var raw bytes.Buffer
	pkt, err := ber.ReadPacket(io.TeeReader(r, &raw))
	if err != nil {
		return nil, false, err
	}
	is := len(pkt.Children) > 1 && pkt.Children[1].ClassType == ber.ClassApplication && pkt.Children[1].Tag == tag
	return raw.Bytes(), is, nil
}

func (p *lossyProxy) pipe(client, server net.Conn) {
	closeBoth := func() { client.Close(); server.Close() }
	swallow := make(chan struct{}, 1)
	go func() { // server → client
		defer closeBoth()
		for {
			msg, isAnswer, err := readMessage(server, ldap.ApplicationExtendedResponse)
			if err != nil {
				return
			}
			if isAnswer {
				select {
				case <-swallow:
					if p.mode == holdAnswer {
						continue
					}
					if p.mode == dropAnswerAll {
						p.mu.Lock()
						p.dead = true
						p.mu.Unlock()
					}
					return // lost with the connection
				default:
				}
			}
			if _, err := client.Write(msg); err != nil {
				return
			}
		}
	}()
	defer closeBoth()
	for { // client → server
		msg, isRequest, err := readMessage(client, ldap.ApplicationExtendedRequest)
		if err != nil {
			return
		}
		if isRequest {
			switch p.mode {
			case dropRequest:
				return
			case holdRequest:
				continue
			case dropAnswer, holdAnswer, dropAnswerAll:
				swallow <- struct{}{}
			}
		}
		if _, err := server.Write(msg); err != nil {
			return
		}
	}
}
