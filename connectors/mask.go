package connectors

import (
	"encoding/json"
	"strings"
)

// Masked is what the API shows instead of a secret config value. A PATCH that sends
// it back unchanged keeps the stored secret (Unmask), so an Admin Console round trip
// (GET, edit another field, PATCH the whole config) does not erase a password.
const Masked = "********"

// Mask returns config with the values at the factory's secret paths replaced by
// Masked. A config that does not decode is returned as {} (it never leaves the
// server unmasked).
func Mask(f Factory, config json.RawMessage) json.RawMessage {
	var obj map[string]any
	if err := json.Unmarshal(config, &obj); err != nil || obj == nil {
		return json.RawMessage("{}")
	}
	for _, path := range f.Secrets() {
		setPath(obj, path, func(v any) (any, bool) {
			if s, ok := v.(string); ok && s == "" {
				return v, false
			}
			return Masked, true
		})
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return json.RawMessage("{}")
	}
	return out
}

// Unmask puts back into next the stored secrets of prev wherever next carries Masked
// at a secret path. next that does not decode is returned as is (validation refuses
// it later).
func Unmask(f Factory, next, prev json.RawMessage) json.RawMessage {
	var obj, old map[string]any
	if err := json.Unmarshal(next, &obj); err != nil || obj == nil {
		return next
	}
	_ = json.Unmarshal(prev, &old)
	changed := false
	for _, path := range f.Secrets() {
		stored, ok := getPath(old, path)
		setPath(obj, path, func(v any) (any, bool) {
			if s, isStr := v.(string); isStr && s == Masked {
				changed = true
				if ok {
					return stored, true
				}
				return "", true
			}
			return v, false
		})
	}
	if !changed {
		return next
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return next
	}
	return out
}

// setPath replaces the value at a dotted path with what fn returns (when it says so).
func setPath(obj map[string]any, path string, fn func(any) (any, bool)) {
	head, rest, nested := strings.Cut(path, ".")
	v, ok := obj[head]
	if !ok {
		return
	}
	if nested {
		if m, isMap := v.(map[string]any); isMap {
			setPath(m, rest, fn)
		}
		return
	}
	if nv, replace := fn(v); replace {
		obj[head] = nv
	}
}

func getPath(obj map[string]any, path string) (any, bool) {
	head, rest, nested := strings.Cut(path, ".")
	v, ok := obj[head]
	if !ok {
		return nil, false
	}
	if !nested {
		return v, true
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		return nil, false
	}
	return getPath(m, rest)
}
