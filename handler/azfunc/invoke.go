// Package azfunc speaks the Azure Functions custom-handler protocol for
// nhpush: the host's invocation payloads in, the response payloads out.
// HTTP functions are proxied raw to the shared handler's /api routes; the
// queue function notifications-queue receives invocation payloads and
// answers so that a message that may succeed later is retried and one that
// never can is parked in the deadletter output binding.
package azfunc

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// InvokeRequest is the payload the Functions host POSTs to a custom
// handler: trigger and input data by binding name, and trigger metadata.
type InvokeRequest struct {
	Data     map[string]json.RawMessage `json:"Data"`
	Metadata map[string]json.RawMessage `json:"Metadata"`
}

// InvokeResponse is what the custom handler answers: output bindings by
// name, log lines for the invocation log, and a return value.
type InvokeResponse struct {
	Outputs     map[string]any `json:"Outputs"`
	Logs        []string       `json:"Logs"`
	ReturnValue any            `json:"ReturnValue"`
}

// ErrMalformedInvocation is returned for a payload that is not an
// invocation of the host.
var ErrMalformedInvocation = errors.New("azfunc: malformed invocation payload")

// DecodeInvokeRequest reads an invocation payload.
func DecodeInvokeRequest(body []byte) (*InvokeRequest, error) {
	var r InvokeRequest
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedInvocation, err)
	}
	if r.Data == nil {
		return nil, fmt.Errorf("%w: no Data", ErrMalformedInvocation)
	}
	return &r, nil
}

// Message returns the bytes of the binding name's data, as the hosts send
// it: a JSON string (the queue message's text, which may itself be JSON or,
// when host.json and the producer disagree on encoding, Base64 of JSON), or
// the JSON value itself.
func (r *InvokeRequest) Message(name string) ([]byte, error) {
	raw, ok := r.Data[name]
	raw = bytes.TrimSpace(raw)
	if !ok || len(raw) == 0 || string(raw) == "null" {
		return nil, fmt.Errorf("%w: Data has no %q", ErrMalformedInvocation, name)
	}
	if raw[0] != '"' {
		return raw, nil // an object or other JSON value, passed as is
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%w: Data.%s: %v", ErrMalformedInvocation, name, err)
	}
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "{") && !strings.HasPrefix(t, "[") {
		if b, err := base64.StdEncoding.DecodeString(t); err == nil && json.Valid(b) {
			return b, nil
		}
	}
	return []byte(s), nil
}

// MetadataString returns a metadata value as text, undoing the second JSON
// encoding real hosts apply to some values ("Id": "\"4e77...\"").
func (r *InvokeRequest) MetadataString(key string) string {
	raw, ok := r.Metadata[key]
	if !ok {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return strings.TrimSpace(string(raw)) // a number or other value
	}
	var inner string
	if strings.HasPrefix(s, `"`) && json.Unmarshal([]byte(s), &inner) == nil {
		return inner
	}
	return s
}

// DequeueCount returns the queue message's delivery count (1 on the first
// delivery), read from a number or a string of one; 0 when absent.
func (r *InvokeRequest) DequeueCount() int {
	n, err := strconv.Atoi(r.MetadataString("DequeueCount"))
	if err != nil {
		return 0
	}
	return n
}

// HTTPRequestData is an HTTP trigger's data in an invocation payload, for
// hosts that do not proxy HTTP requests raw.
type HTTPRequestData struct {
	URL     string              `json:"Url"`
	Method  string              `json:"Method"`
	Headers map[string][]string `json:"Headers"`
	Params  map[string]string   `json:"Params"`
	// Body is the request body: a JSON string holding the text, or the
	// JSON value itself.
	Body json.RawMessage `json:"Body"`
}

// BodyBytes returns the body as the caller sent it.
func (h *HTTPRequestData) BodyBytes() []byte {
	raw := bytes.TrimSpace(h.Body)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var s string
	if raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return []byte(s)
	}
	return raw
}
