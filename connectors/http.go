package connectors

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// HTTPMessage is Logto's "HTTP email" (http-email) and "HTTP SMS" (http-sms)
// factory: every message is POSTed as JSON {to, type, payload} to the configured
// endpoint, with the configured Authorization header, so any provider can be plugged
// in behind a small relay. A non-2xx answer is a failed send (connector.general with
// the answer's body, as Logto's got-based connector reports it).
type HTTPMessage struct {
	Channel Channel // Email or SMS
	Client  *http.Client
}

var _ Factory = (*HTTPMessage)(nil)

// httpMessageConfig is Logto's httpSmsConfigGuard / httpEmailConfigGuard.
type httpMessageConfig struct {
	Endpoint      string `json:"endpoint"`
	Authorization string `json:"authorization,omitempty"`
}

// httpMessageBody is what the endpoint receives (Logto's SendMessageData).
type httpMessageBody struct {
	To      string            `json:"to"`
	Type    string            `json:"type"`
	Payload map[string]string `json:"payload"`
}

// maxProviderAnswer bounds how much of an error answer is read and reported.
const maxProviderAnswer = 512

// Metadata implements Factory.
func (h *HTTPMessage) Metadata() Metadata {
	id, name, what := "http-email", "HTTP Email", "email"
	if h.Channel == SMS {
		id, name, what = "http-sms", "HTTP SMS", "SMS"
	}
	return Metadata{
		ID: id, Target: id, Name: map[string]string{"en": name},
		Description: map[string]string{"en": "Send " + what + " via HTTP call."},
		Readme:      "POSTs {\"to\", \"type\", \"payload\": {\"code\"}} as JSON to the endpoint, with the Authorization header when one is configured.",
		FormItems: []FormItem{
			{Key: "endpoint", Label: "Endpoint", Type: "Text", Required: true, Placeholder: "<https://example.com/your-http-endpoint>"},
			{Key: "authorization", Label: "Authorization Header", Type: "Text", Placeholder: "<Bearer your-token>", IsConfidential: true,
				Tooltip: "The authorization header to be sent with the request, you can verify the value in your server."},
		},
	}
}

// Type implements Factory.
func (h *HTTPMessage) Type() Channel { return h.Channel }

// Secrets implements Factory.
func (h *HTTPMessage) Secrets() []string { return []string{"authorization"} }

// Validate implements Factory.
func (h *HTTPMessage) Validate(config json.RawMessage) error {
	_, err := h.config(config)
	return err
}

func (h *HTTPMessage) config(config json.RawMessage) (httpMessageConfig, error) {
	var c httpMessageConfig
	if err := decodeConfig(config, &c); err != nil {
		return c, err
	}
	u, err := url.Parse(c.Endpoint)
	if c.Endpoint == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, invalidConfig("`endpoint` must be an http(s) URL")
	}
	if strings.ContainsAny(c.Authorization, "\r\n") {
		return c, invalidConfig("`authorization` must be one line")
	}
	return c, nil
}

// Send implements Factory.
func (h *HTTPMessage) Send(ctx context.Context, config json.RawMessage, m Message) error {
	c, err := h.config(config)
	if err != nil {
		return err
	}
	payload := m.Payload
	if payload == nil {
		payload = map[string]string{}
	}
	body, err := json.Marshal(httpMessageBody{To: m.To, Type: m.UsageType, Payload: payload})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Endpoint, bytes.NewReader(body))
	if err != nil {
		return invalidConfig("`endpoint`: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.Authorization != "" {
		req.Header.Set("Authorization", c.Authorization)
	}
	resp, err := h.Client.Do(req)
	if err != nil {
		return general("%v", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxProviderAnswer))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return general("%s answered %d: %s", c.Endpoint, resp.StatusCode, strings.TrimSpace(string(answer)))
	}
	return nil
}

func (h *HTTPMessage) String() string { return fmt.Sprintf("HTTPMessage(%s)", h.Channel) }
