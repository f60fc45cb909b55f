// Package handler is the part of nhpush that both clouds share: the send
// request model with its strict decoding and validation, the mapping onto
// nhclient, the HTTP API (an http.Handler built apart from any listener),
// queue-message processing that tells a retryable failure from one that can
// never succeed, and configuration from the environment.
package handler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nhpush/nhpush/nhclient"
)

// MaxBodyBytes is the largest request or message body accepted (NH's own
// request limit).
const MaxBodyBytes = nhclient.MaxRequestBody

// MaxDeviceHandles bounds the handles of one batch direct send request; it
// is split into NH requests of 1,000.
const MaxDeviceHandles = 10000

// SendRequest is the one schema of a send, for the HTTP body, the Azure
// queue message and the SQS message alike.
type SendRequest struct {
	// Platform is apple, fcmv1, gcm, windows, windowsphone, adm, baidu,
	// xiaomi, browser or template (any case; apns, fcm, wns, mpns too).
	Platform string `json:"platform"`
	// Payload is a JSON object for the JSON formats and templates (whose
	// values are the template properties), and a string for windows and
	// windowsphone (XML) and raw WNS.
	Payload json.RawMessage `json:"payload"`
	// Tags (OR-ed) and TagExpression exclude each other; neither is a
	// broadcast.
	Tags          []string `json:"tags,omitempty"`
	TagExpression string   `json:"tagExpression,omitempty"`
	// DeviceHandle is a direct send; DeviceHandles a batch direct send.
	DeviceHandle  string   `json:"deviceHandle,omitempty"`
	DeviceHandles []string `json:"deviceHandles,omitempty"`
	// ScheduleTime (RFC 3339, at most 7 days ahead) schedules the send.
	ScheduleTime string `json:"scheduleTime,omitempty"`
	// Headers are platform headers passed to NH (apns-priority, X-WNS-Type, ...).
	Headers map[string]string `json:"headers,omitempty"`
	// Test asks NH for the outcome per device (tag and broadcast sends).
	Test bool `json:"test,omitempty"`
}

// Error is an answer of the API that is not a success: an HTTP status, a
// stable code, a message that names what is wrong, and for NH failures the
// tracking id and Retry-After. It is also the reason of a dead-lettered
// message.
type Error struct {
	Status     int           `json:"-"`
	Code       string        `json:"code"`
	Message    string        `json:"message"`
	Field      string        `json:"field,omitempty"`
	TrackingID string        `json:"trackingId,omitempty"`
	RetryAfter time.Duration `json:"-"`
	// Retryable tells whether the same request may succeed later.
	Retryable bool  `json:"-"`
	err       error // the cause, for errors.Is/As
}

// Error returns the code and the message.
func (e *Error) Error() string {
	if e.Field != "" && !strings.Contains(e.Message, e.Field) {
		return e.Code + ": " + e.Field + ": " + e.Message
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the cause (an nhclient error), if any.
func (e *Error) Unwrap() error { return e.err }

func badRequest(code, field, format string, args ...any) *Error {
	return &Error{Status: 400, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// DecodeSendRequest reads one send request strictly: a single JSON object,
// no unknown fields, the right type for every field. It does not validate
// the values (see ParsedSend).
func DecodeSendRequest(body []byte) (*SendRequest, error) {
	if len(body) > MaxBodyBytes {
		return nil, &Error{Status: 413, Code: "body_too_large", Message: fmt.Sprintf("the body is %d bytes, over the limit of %d", len(body), MaxBodyBytes)}
	}
	var req SendRequest
	if err := decodeStrict(body, &req, sendRequestFields); err != nil {
		return nil, err
	}
	return &req, nil
}

// sendRequestFields are the keys of a send request, for decodeStrict.
var sendRequestFields = []string{"platform", "payload", "tags", "tagExpression", "deviceHandle", "deviceHandles", "scheduleTime", "headers", "test"}

// decodeStrict decodes one JSON object into v, refusing wrong types,
// trailing data and, when known is given, keys that are not among known
// (matched without regard to case, as encoding/json matches them), with
// errors that name the field. It decodes with json.Unmarshal and checks the
// keys in a second, light pass: a json.Decoder with DisallowUnknownFields
// costs twice as much on the hot path.
func decodeStrict(body []byte, v any, known []string) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return badRequest("invalid_json", "", "the body is empty; expected a JSON object")
	}
	if trimmed[0] != '{' {
		return badRequest("invalid_json", "", "the body is not a JSON object")
	}
	if err := json.Unmarshal(trimmed, v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			return badRequest("invalid_field_type", te.Field, "field %q must be %s, not a JSON %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		case errors.As(err, &se) && strings.Contains(se.Error(), "after top-level value"):
			return badRequest("invalid_json", "", "the body holds data after the JSON object")
		case errors.As(err, &se) && strings.Contains(se.Error(), "unexpected end"):
			return badRequest("invalid_json", "", "the body is truncated JSON")
		case errors.As(err, &se):
			return badRequest("invalid_json", "", "the body is not valid JSON (at byte %d): %v", se.Offset, err)
		default:
			return badRequest("invalid_json", "", "the body is not valid JSON: %v", err)
		}
	}
	if known != nil {
		if key, ok := unknownKey(trimmed, known); ok {
			return badRequest("unknown_field", key, "unknown field %q", key)
		}
	}
	return nil
}

// unknownKey returns the first top-level key of the valid JSON object b
// that is not among known.
func unknownKey(b []byte, known []string) (string, bool) {
	i := 1 // past '{'
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] == '}' {
			return "", false
		}
		if b[i] == ',' {
			i++
			continue
		}
		end := skipString(b, i)
		key := string(b[i+1 : end-1])
		if strings.IndexByte(key, '\\') >= 0 {
			json.Unmarshal(b[i:end], &key)
		}
		found := false
		for _, k := range known {
			found = found || strings.EqualFold(k, key)
		}
		if !found {
			return key, true
		}
		i = skipSpace(b, end)
		i = skipValue(b, skipSpace(b, i+1)) // past ':' and the value
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string that starts at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index just past the value that starts at b[i].
func skipValue(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch c := b[i]; {
		case c == '"':
			i = skipString(b, i)
			if depth == 0 {
				return i
			}
			continue
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth == 0 {
				return i
			}
			depth--
			if depth == 0 {
				return i + 1
			}
		case depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			return i
		}
		i++
	}
	return i
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "map", "struct":
		return "an object"
	case "bool":
		return "true or false"
	case "int", "int64", "float64":
		return "a number"
	}
	return "of another type"
}

// Kind says what a send does on the wire.
type Kind string

// The kinds of send.
const (
	KindSend      Kind = "send"      // tags, tag expression or broadcast
	KindDirect    Kind = "direct"    // one device handle
	KindBatch     Kind = "batch"     // many device handles
	KindScheduled Kind = "scheduled" // at ScheduleTime
)

// ParsedSend is a validated send request, ready for nhclient.
type ParsedSend struct {
	Kind          Kind
	Notification  *nhclient.Notification
	Options       *nhclient.SendOptions
	DeviceHandle  string
	DeviceHandles []string
	ScheduleTime  time.Time
}

// Parse validates the request against the rules of DESIGN.md and NH's
// limits, and builds the notification. now is the clock for ScheduleTime.
func (r *SendRequest) Parse(now time.Time) (*ParsedSend, error) {
	if strings.TrimSpace(r.Platform) == "" {
		return nil, badRequest("missing_platform", "platform", "platform is required (apple, fcmv1, gcm, windows, windowsphone, adm, baidu, xiaomi, browser or template)")
	}
	format, err := nhclient.ParseFormat(r.Platform)
	if err != nil {
		return nil, badRequest("invalid_platform", "platform", "platform %q is not one of apple, fcmv1, gcm, windows, windowsphone, adm, baidu, xiaomi, browser, template", r.Platform)
	}
	body, err := payloadBytes(format, r.Payload, r.Headers)
	if err != nil {
		return nil, err
	}
	p := &ParsedSend{Kind: KindSend, Notification: nhclient.NewNotification(format, body, r.Headers)}
	if err := p.Notification.Validate(); err != nil {
		return nil, fromClientError(err)
	}

	direct := r.DeviceHandle != "" || r.DeviceHandles != nil
	switch {
	case len(r.Tags) > 0 && r.TagExpression != "":
		return nil, badRequest("conflicting_audience", "tagExpression", "tags and tagExpression exclude each other; give one")
	case direct && (len(r.Tags) > 0 || r.TagExpression != ""):
		return nil, badRequest("conflicting_audience", "deviceHandle", "a direct send (deviceHandle, deviceHandles) takes no tags or tagExpression")
	case r.DeviceHandle != "" && r.DeviceHandles != nil:
		return nil, badRequest("conflicting_audience", "deviceHandles", "deviceHandle and deviceHandles exclude each other; give one")
	case direct && r.Test:
		return nil, badRequest("invalid_test", "test", "test sends report per registration and apply to tag and broadcast sends only")
	case r.ScheduleTime != "" && direct:
		return nil, badRequest("conflicting_audience", "scheduleTime", "a scheduled send cannot be a direct send")
	case r.ScheduleTime != "" && r.Test:
		return nil, badRequest("invalid_test", "test", "a scheduled send cannot be a test send")
	}
	if r.Tags != nil && len(r.Tags) == 0 {
		return nil, badRequest("invalid_tag", "tags", "tags is empty; leave it out for a broadcast")
	}
	p.Options = &nhclient.SendOptions{Tags: r.Tags, TagExpression: r.TagExpression, Test: r.Test}
	if len(r.Tags) > nhclient.MaxTagsOrOnly {
		return nil, badRequest("invalid_tag", "tags", "%d tags; a send may name at most %d", len(r.Tags), nhclient.MaxTagsOrOnly)
	}
	for i, t := range r.Tags {
		if err := nhclient.ValidateTag(t); err != nil {
			return nil, badRequest("invalid_tag", fmt.Sprintf("tags[%d]", i), "%s", strings.TrimPrefix(err.Error(), "nhclient: invalid tag: "))
		}
	}
	if r.TagExpression != "" {
		if err := nhclient.ValidateTagExpression(r.TagExpression); err != nil {
			return nil, badRequest("invalid_tag_expression", "tagExpression", "%s", strings.TrimPrefix(err.Error(), "nhclient: invalid tag expression: "))
		}
	}
	switch {
	case r.DeviceHandle != "":
		if strings.TrimSpace(r.DeviceHandle) == "" || strings.ContainsAny(r.DeviceHandle, "\r\n") {
			return nil, badRequest("invalid_device_handle", "deviceHandle", "deviceHandle is blank or holds CR/LF")
		}
		p.Kind, p.DeviceHandle = KindDirect, r.DeviceHandle
	case r.DeviceHandles != nil:
		if len(r.DeviceHandles) == 0 {
			return nil, badRequest("invalid_device_handle", "deviceHandles", "deviceHandles is empty")
		}
		if len(r.DeviceHandles) > MaxDeviceHandles {
			return nil, badRequest("invalid_device_handle", "deviceHandles", "%d device handles; one request takes at most %d", len(r.DeviceHandles), MaxDeviceHandles)
		}
		for i, h := range r.DeviceHandles {
			if strings.TrimSpace(h) == "" || strings.ContainsAny(h, "\r\n") {
				return nil, badRequest("invalid_device_handle", fmt.Sprintf("deviceHandles[%d]", i), "device handle %d is blank or holds CR/LF", i)
			}
		}
		p.Kind, p.DeviceHandles = KindBatch, r.DeviceHandles
	}
	if r.ScheduleTime != "" {
		at, err := time.Parse(time.RFC3339, r.ScheduleTime)
		if err != nil {
			return nil, badRequest("invalid_schedule_time", "scheduleTime", "scheduleTime %q is not an RFC 3339 time such as 2026-12-05T10:00:00Z", r.ScheduleTime)
		}
		if err := nhclient.ValidateScheduleTime(at, now); err != nil {
			return nil, badRequest("invalid_schedule_time", "scheduleTime", "%s", strings.TrimPrefix(err.Error(), "nhclient: invalid schedule time: "))
		}
		p.Kind, p.ScheduleTime = KindScheduled, at
	}
	return p, nil
}

// payloadBytes checks that the payload has the kind its format needs and
// returns the bytes to send.
func payloadBytes(f nhclient.Format, raw json.RawMessage, headers map[string]string) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, badRequest("missing_payload", "payload", "payload is required")
	}
	rawWNS := f == nhclient.FormatWindows && strings.EqualFold(headerValue(headers, "X-WNS-Type"), "wns/raw")
	switch {
	case f.IsXML() || rawWNS:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, badRequest("invalid_payload", "payload", "a %s payload must be a string (XML, or raw bytes for wns/raw)", f)
		}
		if s == "" {
			return nil, badRequest("missing_payload", "payload", "payload is empty")
		}
		return []byte(s), nil
	case f == nhclient.FormatTemplate:
		var props map[string]any
		if raw[0] != '{' || json.Unmarshal(raw, &props) != nil {
			return nil, badRequest("invalid_payload", "payload", "a template payload must be a JSON object of template properties")
		}
		for k, v := range props {
			if _, ok := v.(string); !ok {
				return nil, badRequest("invalid_payload", "payload."+k, "template property %q must be a string", k)
			}
		}
		return raw, nil
	default:
		if raw[0] != '{' {
			return nil, badRequest("invalid_payload", "payload", "a %s payload must be a JSON object", f)
		}
		return raw, nil
	}
}

func headerValue(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}
