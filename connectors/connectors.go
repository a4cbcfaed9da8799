// Package connectors sends email and SMS through the connectors configured in the
// directory, as Logto's passwordless connectors do: an SMTP email factory and the
// HTTP email / HTTP SMS factories (POST a JSON message to any provider's endpoint).
//
// A Factory knows one connector kind: its metadata (Logto's shape, what
// /api/connector-factories lists), how to validate its config, which config fields
// are secrets, and how to send a message with a config. The Registry finds the
// configured connector of a type in the directory and sends through it (Sender).
// Social and enterprise SSO factories slot in later behind the same Factory type.
package connectors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/latchid/latch/directory"
)

// Channel is a message connector type (Logto's ConnectorType Email / SMS).
type Channel = string

// The message channels.
const (
	Email Channel = directory.ConnectorTypeEmail
	SMS   Channel = directory.ConnectorTypeSMS
)

// Usage types of a message (Logto's TemplateType): which template a connector uses.
const (
	UsageSignIn                 = "SignIn"
	UsageRegister               = "Register"
	UsageForgotPassword         = "ForgotPassword"
	UsageGeneric                = "Generic"
	UsageOrganizationInvitation = "OrganizationInvitation"
)

// Message is one message to send. Payload carries the template variables; "code" is
// the verification code.
type Message struct {
	To        string
	UsageType string
	Payload   map[string]string
}

// Sender sends a verification code through the connector configured for a channel.
// The Registry implements it; the verification-code flows depend on this interface.
type Sender interface {
	// Send delivers code to to (an email address or a phone number) with the template
	// of usageType, through the configured connector of channel. No connector of that
	// channel is an *Error with CodeNotFound.
	Send(ctx context.Context, channel Channel, to, usageType, code string) error
}

// Logto's connector error codes (packages/phrases errors/connector.ts).
const (
	CodeNotFound         = "connector.not_found"
	CodeInvalidConfig    = "connector.invalid_config"
	CodeTemplateNotFound = "connector.template_not_found"
	CodeGeneral          = "connector.general"
	CodeUnexpectedType   = "connector.unexpected_type"
)

// Error is a connector failure with Logto's code. Description says what went wrong
// (a config field, the provider's answer); it may name the provider's internals, so a
// public route shows it only to the operator.
type Error struct {
	Code        string
	Description string
}

func (e *Error) Error() string {
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

func invalidConfig(format string, args ...any) *Error {
	return &Error{Code: CodeInvalidConfig, Description: fmt.Sprintf(format, args...)}
}

func general(format string, args ...any) *Error {
	return &Error{Code: CodeGeneral, Description: fmt.Sprintf(format, args...)}
}

// Metadata is a factory's description in Logto's ConnectorMetadata shape.
type Metadata struct {
	ID          string            `json:"id"`
	Target      string            `json:"target"`
	Platform    *string           `json:"platform"`
	Name        map[string]string `json:"name"`
	Description map[string]string `json:"description"`
	Logo        string            `json:"logo"`
	LogoDark    *string           `json:"logoDark"`
	Readme      string            `json:"readme"`
	FormItems   []FormItem        `json:"formItems,omitempty"`
}

// FormItem is one config field as the Admin Console renders it (Logto's
// ConnectorConfigFormItem).
type FormItem struct {
	Key            string `json:"key"`
	Label          string `json:"label"`
	Type           string `json:"type"` // Text, Number, Json, Switch, MultilineText
	Required       bool   `json:"required,omitempty"`
	Placeholder    string `json:"placeholder,omitempty"`
	Tooltip        string `json:"tooltip,omitempty"`
	DefaultValue   any    `json:"defaultValue,omitempty"`
	IsConfidential bool   `json:"isConfidential,omitempty"`
}

// Factory is one connector kind.
type Factory interface {
	Metadata() Metadata
	// Type is the factory's Channel.
	Type() Channel
	// Validate checks a config object as Logto's configGuard does; a bad config is an
	// *Error with CodeInvalidConfig.
	Validate(config json.RawMessage) error
	// Secrets are the config fields whose values the API never returns, as dotted
	// paths ("auth.pass").
	Secrets() []string
	// Send delivers m with config (already validated or not: Send validates again).
	Send(ctx context.Context, config json.RawMessage, m Message) error
}

// Config wires a Registry.
type Config struct {
	// Directory holds the configured connectors. Required.
	Directory *directory.Directory
	// HTTPClient posts the HTTP connectors' messages; nil uses a client with a 10 s
	// timeout.
	HTTPClient *http.Client
	// Now stamps the mail's Date header. Required.
	Now    func() time.Time
	Logger *slog.Logger
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Directory == nil {
		errs = append(errs, errors.New("connectors: Directory is required"))
	}
	if c.Now == nil {
		errs = append(errs, errors.New("connectors: Now is required"))
	}
	return errors.Join(errs...)
}

// Registry holds the factories and sends through the configured connectors. Safe for
// concurrent use: it holds no state beyond its factories; the connectors are read from
// the directory on every send.
type Registry struct {
	dir       *directory.Directory
	factories []Factory
	log       *slog.Logger
}

var _ Sender = (*Registry)(nil)

// New builds a Registry with Latch's factories: SMTP, HTTP email, HTTP SMS.
func New(cfg Config) (*Registry, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Registry{
		dir: cfg.Directory,
		log: log,
		factories: []Factory{
			&SMTP{Now: cfg.Now},
			&HTTPMessage{Channel: Email, Client: hc},
			&HTTPMessage{Channel: SMS, Client: hc},
		},
	}, nil
}

// Factories returns every factory, in a stable order.
func (r *Registry) Factories() []Factory { return slices.Clone(r.factories) }

// Factory returns the factory with id.
func (r *Registry) Factory(id string) (Factory, bool) {
	for _, f := range r.factories {
		if f.Metadata().ID == id {
			return f, true
		}
	}
	return nil, false
}

// Configured returns the connector configured for channel and its factory.
func (r *Registry) Configured(channel Channel) (*directory.Connector, Factory, bool) {
	for _, c := range r.dir.Connectors() {
		if c.Type != channel {
			continue
		}
		if f, ok := r.Factory(c.ConnectorID); ok {
			return c, f, true
		}
	}
	return nil, nil, false
}

// Send implements Sender.
func (r *Registry) Send(ctx context.Context, channel Channel, to, usageType, code string) error {
	return r.SendMessage(ctx, channel, Message{To: to, UsageType: usageType, Payload: map[string]string{"code": code}})
}

// SendMessage sends m through the connector configured for channel.
func (r *Registry) SendMessage(ctx context.Context, channel Channel, m Message) error {
	c, f, ok := r.Configured(channel)
	if !ok {
		return &Error{Code: CodeNotFound, Description: fmt.Sprintf("Cannot find any available connector for type: %s.", channel)}
	}
	if err := f.Send(ctx, c.Config, m); err != nil {
		r.log.Warn("connector send failed", "connector", c.ID, "factory", c.ConnectorID, "usageType", m.UsageType, "err", err)
		return err
	}
	return nil
}

// Test sends a Generic message with code 000000 to to through factory with config,
// as Logto's POST /connectors/{factoryId}/test does.
func (r *Registry) Test(ctx context.Context, f Factory, to string, config json.RawMessage) error {
	if err := f.Validate(config); err != nil {
		return err
	}
	return f.Send(ctx, config, Message{To: to, UsageType: UsageGeneric, Payload: map[string]string{"code": "000000"}})
}

// render replaces Logto's handlebars ({{key}}) in s with payload values; escape, when
// set, is applied to each value (HTML templates).
func render(s string, payload map[string]string, escape func(string) string) string {
	for k, v := range payload {
		if escape != nil {
			v = escape(v)
		}
		s = strings.ReplaceAll(s, "{{"+k+"}}", v)
		s = strings.ReplaceAll(s, "{{ "+k+" }}", v)
	}
	return s
}

// decodeConfig decodes a config object into v; a config that is not a JSON object or
// has a field of the wrong type is CodeInvalidConfig.
func decodeConfig(config json.RawMessage, v any) error {
	raw := strings.TrimSpace(string(config))
	if !strings.HasPrefix(raw, "{") {
		return invalidConfig("the config must be a JSON object")
	}
	if err := json.Unmarshal(config, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return invalidConfig("`%s` must be %s", te.Field, te.Type)
		}
		return invalidConfig("the config is not valid JSON")
	}
	return nil
}
