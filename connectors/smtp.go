package connectors

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SMTP is Logto's SMTP email factory (simple-mail-transfer-protocol), with the config
// fields of Logto's smtpConfigGuard that matter on the wire: host, port, auth
// {user, pass}, fromEmail, replyTo, templates per usage type, and TLS as nodemailer
// does it: secure (implicit TLS, e.g. port 465); otherwise STARTTLS whenever the
// server offers it, required with requireTLS, skipped with ignoreTLS. tls.ca (PEM)
// adds trusted roots, tls.rejectUnauthorized=false skips verification (tests only),
// servername overrides the name verified.
//
// Credentials are never sent over an unencrypted connection except to a loopback
// host (net/smtp's rule for PLAIN, applied to LOGIN too): a server that offers no TLS
// gets no password.
type SMTP struct {
	Now func() time.Time
}

var _ Factory = (*SMTP)(nil)

// requiredTemplates are the usage types Logto's SMTP connector requires a template
// for. Other usage types (OrganizationInvitation...) use their template when there is
// one and the Generic template otherwise.
var requiredTemplates = []string{UsageRegister, UsageSignIn, UsageForgotPassword, UsageGeneric}

type smtpConfig struct {
	Host       string         `json:"host"`
	Port       int            `json:"port"`
	Auth       *smtpAuth      `json:"auth,omitempty"`
	FromEmail  string         `json:"fromEmail"`
	ReplyTo    string         `json:"replyTo,omitempty"`
	Templates  []smtpTemplate `json:"templates"`
	Secure     bool           `json:"secure"`
	RequireTLS bool           `json:"requireTLS"`
	IgnoreTLS  bool           `json:"ignoreTLS"`
	TLS        *smtpTLS       `json:"tls,omitempty"`
	Servername string         `json:"servername,omitempty"`
	// Name is the client's EHLO name (nodemailer's name); default "localhost".
	Name string `json:"name,omitempty"`
	// ConnectionTimeout and SocketTimeout are in milliseconds (nodemailer's);
	// defaults 30 s and 60 s, and never past the request's deadline.
	ConnectionTimeout int `json:"connectionTimeout,omitempty"`
	SocketTimeout     int `json:"socketTimeout,omitempty"`
}

type smtpAuth struct {
	Type string `json:"type,omitempty"` // login (default): PLAIN or LOGIN, whichever the server offers
	User string `json:"user"`
	Pass string `json:"pass"`
}

type smtpTLS struct {
	CA                 string `json:"ca,omitempty"`
	RejectUnauthorized *bool  `json:"rejectUnauthorized,omitempty"`
}

type smtpTemplate struct {
	UsageType   string `json:"usageType"`
	ContentType string `json:"contentType"` // text/plain or text/html
	Subject     string `json:"subject"`
	Content     string `json:"content"`
}

// Metadata implements Factory.
func (s *SMTP) Metadata() Metadata {
	tpl := func(usage, what string) map[string]string {
		return map[string]string{"usageType": usage, "contentType": "text/plain",
			"subject": "Your " + what + " code",
			"content": "Your " + what + " code is {{code}}. The code will remain active for 10 minutes."}
	}
	return Metadata{
		ID: "simple-mail-transfer-protocol", Target: "smtp",
		Name:        map[string]string{"en": "SMTP"},
		Description: map[string]string{"en": "The SMTP is an internet standard communication protocol for electronic mail transmission."},
		Readme:      "Sends email through an SMTP server: implicit TLS with secure, else STARTTLS when offered (required with requireTLS). Templates per usageType (SignIn, Register, ForgotPassword, Generic required; OrganizationInvitation optional) with {{code}} substituted.",
		FormItems: []FormItem{
			{Key: "host", Label: "Host", Type: "Text", Required: true, Placeholder: "<host>"},
			{Key: "port", Label: "Port", Type: "Number", Required: true, Placeholder: "587"},
			{Key: "auth", Label: "Auth", Type: "Json", Required: true,
				DefaultValue: map[string]string{"type": "login", "user": "<username>", "pass": "<password>"}},
			{Key: "fromEmail", Label: "From Email", Type: "Text", Required: true, Placeholder: "<from_email_address@your.domain>"},
			{Key: "replyTo", Label: "Reply To", Type: "Text", Placeholder: "<do-reply@your.domain>"},
			{Key: "templates", Label: "Templates", Type: "Json", Required: true, DefaultValue: []map[string]string{
				tpl(UsageSignIn, "sign-in verification"), tpl(UsageRegister, "sign-up verification"),
				tpl(UsageForgotPassword, "password reset verification"), tpl(UsageGeneric, "verification"),
			}},
			{Key: "secure", Label: "Secure", Type: "Switch", DefaultValue: false},
			{Key: "requireTLS", Label: "Require TLS", Type: "Switch"},
			{Key: "ignoreTLS", Label: "Ignore TLS", Type: "Switch"},
			{Key: "tls", Label: "TLS", Type: "Json", DefaultValue: map[string]any{}},
			{Key: "servername", Label: "Servername", Type: "Text", Placeholder: "<servername>"},
			{Key: "name", Label: "Name", Type: "Text", Placeholder: "<Latch-SMTP>"},
			{Key: "connectionTimeout", Label: "Connection Timeout", Type: "Number", Placeholder: "30000"},
			{Key: "socketTimeout", Label: "Socket Timeout", Type: "Number", Placeholder: "60000"},
		},
	}
}

// Type implements Factory.
func (s *SMTP) Type() Channel { return Email }

// Secrets implements Factory.
func (s *SMTP) Secrets() []string { return []string{"auth.pass"} }

// Validate implements Factory.
func (s *SMTP) Validate(config json.RawMessage) error {
	_, err := s.config(config)
	return err
}

func (s *SMTP) config(config json.RawMessage) (smtpConfig, error) {
	var c smtpConfig
	if err := decodeConfig(config, &c); err != nil {
		return c, err
	}
	var problems []string
	if c.Host == "" || strings.ContainsAny(c.Host, " \r\n/") {
		problems = append(problems, "`host` is required")
	}
	if c.Port < 1 || c.Port > 65535 {
		problems = append(problems, "`port` must be 1-65535")
	}
	if _, err := mail.ParseAddress(c.FromEmail); err != nil {
		problems = append(problems, "`fromEmail` must be an email address")
	}
	if c.ReplyTo != "" {
		if _, err := mail.ParseAddress(c.ReplyTo); err != nil {
			problems = append(problems, "`replyTo` must be an email address")
		}
	}
	if c.Auth != nil && (strings.ContainsAny(c.Auth.User, "\r\n") || strings.ContainsAny(c.Auth.Pass, "\r\n")) {
		problems = append(problems, "`auth` must not contain line breaks")
	}
	var missing []string
	for _, u := range requiredTemplates {
		if !slices.ContainsFunc(c.Templates, func(t smtpTemplate) bool { return t.UsageType == u }) {
			missing = append(missing, u)
		}
	}
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("Template with UsageType (%s) should be provided!", strings.Join(missing, ", ")))
	}
	for _, t := range c.Templates {
		if t.ContentType != "text/plain" && t.ContentType != "text/html" {
			problems = append(problems, fmt.Sprintf("template %q: `contentType` must be text/plain or text/html", t.UsageType))
		}
	}
	if c.TLS != nil && c.TLS.CA != "" && !x509.NewCertPool().AppendCertsFromPEM([]byte(c.TLS.CA)) {
		problems = append(problems, "`tls.ca` must hold PEM certificates")
	}
	if len(problems) > 0 {
		return c, invalidConfig("%s", strings.Join(problems, "; "))
	}
	return c, nil
}

func (c smtpConfig) template(usage string) (smtpTemplate, bool) {
	for _, want := range []string{usage, UsageGeneric} {
		for _, t := range c.Templates {
			if t.UsageType == want {
				return t, true
			}
		}
	}
	return smtpTemplate{}, false
}

func (c smtpConfig) tlsConfig() *tls.Config {
	conf := &tls.Config{ServerName: c.Host, MinVersion: tls.VersionTLS12}
	if c.Servername != "" {
		conf.ServerName = c.Servername
	}
	if c.TLS != nil {
		if c.TLS.CA != "" {
			pool, err := x509.SystemCertPool()
			if err != nil || pool == nil {
				pool = x509.NewCertPool()
			}
			pool.AppendCertsFromPEM([]byte(c.TLS.CA))
			conf.RootCAs = pool
		}
		if c.TLS.RejectUnauthorized != nil && !*c.TLS.RejectUnauthorized {
			conf.InsecureSkipVerify = true //nolint:gosec // nodemailer's tls.rejectUnauthorized=false, an explicit operator choice
		}
	}
	return conf
}

// Send implements Factory.
func (s *SMTP) Send(ctx context.Context, config json.RawMessage, m Message) error {
	c, err := s.config(config)
	if err != nil {
		return err
	}
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return &Error{Code: CodeGeneral, Description: "the recipient is not an email address"}
	}
	t, ok := c.template(m.UsageType)
	if !ok {
		return &Error{Code: CodeTemplateNotFound, Description: "Template not found for type: " + m.UsageType}
	}
	msg, err := s.compose(c, to.Address, t, m.Payload)
	if err != nil {
		return err
	}
	if err := s.deliver(ctx, c, to.Address, msg); err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			return ce
		}
		return general("%v", err)
	}
	return nil
}

// compose builds the RFC 5322 message: UTF-8 quoted-printable body, Q-encoded subject.
func (s *SMTP) compose(c smtpConfig, to string, t smtpTemplate, payload map[string]string) ([]byte, error) {
	subject := render(t.Subject, payload, nil)
	subject = strings.NewReplacer("\r", " ", "\n", " ").Replace(subject)
	var escape func(string) string
	if t.ContentType == "text/html" {
		escape = html.EscapeString
	}
	content := render(t.Content, payload, escape)
	from, _ := mail.ParseAddress(c.FromEmail)
	var id [12]byte
	_, _ = rand.Read(id[:])
	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", from.String())
	header("To", (&mail.Address{Address: to}).String())
	if c.ReplyTo != "" {
		rt, _ := mail.ParseAddress(c.ReplyTo)
		header("Reply-To", rt.String())
	}
	header("Subject", mime.QEncoding.Encode("utf-8", subject))
	header("Date", s.Now().Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id[:])+"@"+domain+">")
	header("MIME-Version", "1.0")
	header("Content-Type", t.ContentType+"; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(content)); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	b.WriteString("\r\n")
	return b.Bytes(), nil
}

// deliver runs one SMTP transaction: connect (TLS when secure), EHLO, STARTTLS as
// configured, AUTH, MAIL, RCPT, DATA, QUIT. Every step is bounded by the request's
// deadline and the socket timeout.
func (s *SMTP) deliver(ctx context.Context, c smtpConfig, to string, msg []byte) error {
	connTimeout := 30 * time.Second
	if c.ConnectionTimeout > 0 {
		connTimeout = time.Duration(c.ConnectionTimeout) * time.Millisecond
	}
	sockTimeout := 60 * time.Second
	if c.SocketTimeout > 0 {
		sockTimeout = time.Duration(c.SocketTimeout) * time.Millisecond
	}
	addr := net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	d := net.Dialer{Timeout: connTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return general("connecting to %s: %v", addr, err)
	}
	deadline := time.Now().Add(sockTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) }) // cancellation ends the I/O
	defer stop()
	if c.Secure {
		tc := tls.Client(conn, c.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = conn.Close()
			return general("TLS with %s: %v", addr, err)
		}
		conn = tc
	}
	client, err := smtp.NewClient(conn, c.Host)
	if err != nil {
		_ = conn.Close()
		return general("greeting from %s: %v", addr, err)
	}
	defer client.Close()
	name := c.Name
	if name == "" {
		name = "localhost"
	}
	if err := client.Hello(name); err != nil {
		return general("EHLO: %v", err)
	}
	encrypted := c.Secure
	if !c.Secure && !c.IgnoreTLS {
		if ok, _ := client.Extension("STARTTLS"); ok {
			if err := client.StartTLS(c.tlsConfig()); err != nil {
				return general("STARTTLS: %v", err)
			}
			encrypted = true
		} else if c.RequireTLS {
			return general("%s does not offer STARTTLS and requireTLS is set", addr)
		}
	}
	if c.Auth != nil && c.Auth.User != "" {
		if !encrypted && !isLoopback(c.Host) {
			return general("refusing to send credentials to %s over an unencrypted connection", addr)
		}
		a, err := pickAuth(client, c.Host, *c.Auth)
		if err != nil {
			return err
		}
		if err := client.Auth(a); err != nil {
			return general("AUTH: %v", err)
		}
	}
	from, _ := mail.ParseAddress(c.FromEmail)
	if err := client.Mail(from.Address); err != nil {
		return general("MAIL FROM: %v", err)
	}
	if err := client.Rcpt(to); err != nil {
		return general("RCPT TO: %v", err)
	}
	w, err := client.Data()
	if err != nil {
		return general("DATA: %v", err)
	}
	if _, err := w.Write(msg); err != nil {
		return general("DATA: %v", err)
	}
	if err := w.Close(); err != nil {
		return general("DATA: %v", err)
	}
	_ = client.Quit()
	return nil
}

// pickAuth chooses PLAIN when the server offers it, else LOGIN (nodemailer's "login"
// type does the same).
func pickAuth(client *smtp.Client, host string, a smtpAuth) (smtp.Auth, error) {
	ok, mechs := client.Extension("AUTH")
	if !ok {
		return nil, general("the server offers no AUTH")
	}
	offered := strings.Fields(strings.ToUpper(mechs))
	switch {
	case slices.Contains(offered, "PLAIN"):
		return smtp.PlainAuth("", a.User, a.Pass, host), nil
	case slices.Contains(offered, "LOGIN"):
		return &loginAuth{user: a.User, pass: a.Pass, host: host}, nil
	}
	return nil, general("the server offers no supported AUTH mechanism (%s)", mechs)
}

// loginAuth is the LOGIN SASL mechanism (draft-murchison-sasl-login), with
// net/smtp's PlainAuth rule: only over TLS or to a loopback host.
type loginAuth struct {
	user, pass, host string
}

func (a *loginAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS && !isLoopback(server.Name) {
		return "", nil, errors.New("unencrypted connection")
	}
	if server.Name != a.host {
		return "", nil, errors.New("wrong host name")
	}
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	switch strings.ToLower(strings.TrimSpace(string(fromServer))) {
	case "username:", "user name", "username":
		return []byte(a.user), nil
	case "password:", "password":
		return []byte(a.pass), nil
	}
	return nil, fmt.Errorf("unexpected LOGIN challenge %q", fromServer)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
