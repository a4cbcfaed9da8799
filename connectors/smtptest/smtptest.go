// Package smtptest runs a real SMTP server (github.com/emersion/go-smtp) on loopback
// for tests: it accepts mail, optionally behind AUTH PLAIN, STARTTLS or implicit TLS
// with a certificate made for the test, and hands each message to the test.
package smtptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/mail"
	"strconv"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mode is how the server offers TLS.
type Mode int

// Modes.
const (
	Plain    Mode = iota // no TLS
	StartTLS             // STARTTLS offered
	Implicit             // TLS from the first byte (port 465 style)
)

// Options configure a Server.
type Options struct {
	Mode Mode
	// User and Pass, when User is set, are required through AUTH PLAIN before MAIL.
	User, Pass string
	// Addr is where to listen; "" is 127.0.0.1:0.
	Addr string
}

// Message is one mail the server accepted.
type Message struct {
	From string
	To   []string
	// TLS reports whether the message came over an encrypted connection.
	TLS bool
	// AuthUser is who authenticated ("" when nobody did).
	AuthUser string
	Raw      []byte
	Parsed   *mail.Message
	Body     string // the raw body (still transfer-encoded)
}

// Server is a running SMTP server.
type Server struct {
	Host string
	Port int
	// CAPEM is the PEM of the certificate the server presents (TLS modes).
	CAPEM    string
	Messages chan Message
}

// Start starts a server; it stops when the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s := &Server{Messages: make(chan Message, 16)}
	var tlsConf *tls.Config
	if o.Mode != Plain {
		cert, pemBytes := selfSigned(t)
		s.CAPEM = pemBytes
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	be := smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: s, opts: o, conn: c}, nil
	})
	srv := smtp.NewServer(be)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = o.Mode == Plain
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	if o.Mode == StartTLS {
		srv.TLSConfig = tlsConf
	}
	if o.Mode == Implicit {
		l = tls.NewListener(l, tlsConf)
	}
	host, port, _ := net.SplitHostPort(l.Addr().String())
	s.Host = host
	s.Port, _ = strconv.Atoi(port)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// Next waits for the next message.
func (s *Server) Next(t testing.TB) Message {
	t.Helper()
	select {
	case m := <-s.Messages:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("smtptest: no message arrived")
	}
	return Message{}
}

type session struct {
	srv  *Server
	opts Options
	conn *smtp.Conn
	user string
	from string
	to   []string
}

func (s *session) AuthMechanisms() []string {
	if s.opts.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != s.opts.User || password != s.opts.Pass {
			return errors.New("invalid credentials")
		}
		s.user = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.opts.User != "" && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	m := Message{From: s.from, To: s.to, Raw: raw, TLS: isTLS, AuthUser: s.user}
	if p, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
		m.Parsed = p
		body, _ := io.ReadAll(p.Body)
		m.Body = string(body)
	}
	s.srv.Messages <- m
	return nil
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }

// selfSigned makes a certificate for 127.0.0.1 and localhost.
func selfSigned(t testing.TB) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "smtptest"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, string(pemBytes)
}
