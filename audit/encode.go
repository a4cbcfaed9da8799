package audit

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// appendLog appends l's JSON: the members json.Marshal writes, in its order, without
// its reflection (which was a third of the writer's time per entry). Strings are
// escaped as JSON requires, invalid UTF-8 becomes U+FFFD as with json.Marshal; '<',
// '>' and '&' are written as they are (json.Marshal's HTML escaping changes no value).
// A webhook delivery log, whose bodies are raw JSON, is rare: json.Marshal writes it.
func appendLog(b []byte, l *Log) ([]byte, error) {
	p := &l.Payload
	if p.HookRequest != nil || p.Response != nil {
		raw, err := json.Marshal(l)
		return append(b, raw...), err
	}
	b = append(b, `{"id":`...)
	b = appendString(b, l.ID)
	b = append(b, `,"key":`...)
	b = appendString(b, l.Key)
	b = append(b, `,"payload":{"key":`...)
	b = appendString(b, p.Key)
	b = append(b, `,"result":`...)
	b = appendString(b, string(p.Result))
	if p.Error != nil {
		b = append(b, `,"error":{`...)
		if p.Error.Code != "" {
			b = append(b, `"code":`...)
			b = appendString(b, p.Error.Code)
			b = append(b, ',')
		}
		b = append(b, `"message":`...)
		b = appendString(b, p.Error.Message)
		b = append(b, '}')
	}
	b = appendMember(b, "ip", p.IP)
	b = appendMember(b, "userAgent", p.UserAgent)
	b = appendMember(b, "applicationId", p.ApplicationID)
	b = appendMember(b, "sessionId", p.SessionID)
	b = appendMember(b, "userId", p.UserID)
	b = appendMember(b, "interactionEvent", p.InteractionEvent)
	if p.Identifier != nil {
		b = append(b, `,"identifier":{"type":`...)
		b = appendString(b, p.Identifier.Type)
		b = append(b, `,"value":`...)
		b = appendString(b, p.Identifier.Value)
		b = append(b, '}')
	}
	b = appendMember(b, "verificationId", p.VerificationID)
	if p.Params != nil {
		b = append(b, `,"params":{"grant_type":`...)
		b = appendString(b, p.Params.GrantType)
		b = append(b, '}')
	}
	if len(p.TokenTypes) > 0 {
		b = append(b, `,"tokenTypes":[`...)
		for i, t := range p.TokenTypes {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, t)
		}
		b = append(b, ']')
	}
	b = appendMember(b, "scope", p.Scope)
	b = appendMember(b, "method", p.Method)
	b = appendMember(b, "path", p.Path)
	if p.Status != 0 {
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(p.Status), 10)
	}
	b = appendMember(b, "hookId", p.HookID)
	b = append(b, `},"createdAt":`...)
	b = strconv.AppendInt(b, l.CreatedAt, 10)
	return append(b, '}'), nil
}

// appendMember appends ,"name":"value" unless value is empty (omitempty).
func appendMember(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, value)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
