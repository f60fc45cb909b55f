package nhclient

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Format is a notification format of Notification Hubs, the value of the
// ServiceBusNotification-Format header.
type Format int

// The formats NH accepts.
const (
	FormatUnknown Format = iota
	FormatApple
	FormatFcmV1
	FormatGcm
	FormatWindows
	FormatWindowsPhone
	FormatAdm
	FormatBaidu
	FormatXiaomi
	FormatBrowser
	FormatTemplate
)

var formatNames = [...]string{"", "apple", "fcmv1", "gcm", "windows", "windowsphone", "adm", "baidu", "xiaomi", "browser", "template"}

// String returns the wire name of f ("apple", "fcmv1", ...).
func (f Format) String() string {
	if f <= FormatUnknown || int(f) >= len(formatNames) {
		return fmt.Sprintf("Format(%d)", int(f))
	}
	return formatNames[f]
}

// ParseFormat reads a format name, case-insensitively. It accepts the wire
// names and the aliases apns (apple), fcm (fcmv1), wns (windows) and mpns
// (windowsphone).
func ParseFormat(s string) (Format, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	switch name {
	case "apns":
		return FormatApple, nil
	case "fcm":
		return FormatFcmV1, nil
	case "wns":
		return FormatWindows, nil
	case "mpns":
		return FormatWindowsPhone, nil
	}
	for i, n := range formatNames {
		if i > 0 && n == name {
			return Format(i), nil
		}
	}
	return FormatUnknown, fmt.Errorf("%w: %q is not one of apple, fcmv1, gcm, windows, windowsphone, adm, baidu, xiaomi, browser, template", ErrInvalidFormat, s)
}

// MarshalText implements encoding.TextMarshaler.
func (f Format) MarshalText() ([]byte, error) {
	if f <= FormatUnknown || int(f) >= len(formatNames) {
		return nil, fmt.Errorf("%w: %d", ErrInvalidFormat, int(f))
	}
	return []byte(formatNames[f]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler (see ParseFormat).
func (f *Format) UnmarshalText(b []byte) error {
	v, err := ParseFormat(string(b))
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// IsXML reports whether the format's payloads are XML (windows, windowsphone).
func (f Format) IsXML() bool { return f == FormatWindows || f == FormatWindowsPhone }

// PayloadLimit is the largest payload, in bytes, the platform behind f
// accepts: 4 KB for APNs, FCM, Baidu, Xiaomi and web push, 5 KB for WNS,
// 3 KB for MPNS, 6 KB for ADM. Templates are expanded by NH per device, so
// their body is held to NH's own 64 KB request limit.
func (f Format) PayloadLimit() int {
	switch f {
	case FormatWindows:
		return 5 * 1024
	case FormatWindowsPhone:
		return 3 * 1024
	case FormatAdm:
		return 6 * 1024
	case FormatTemplate:
		return MaxRequestBody
	}
	return 4 * 1024
}

// MaxRequestBody is the largest request body NH accepts (64 KB).
const MaxRequestBody = 64 * 1024

// Content types NH expects per format.
const (
	contentTypeJSON   = "application/json;charset=utf-8"
	contentTypeXML    = "application/xml"
	contentTypeStream = "application/octet-stream"
)

// Notification is one notification in one NH format, built with the
// New...Notification constructors (or by hand: Format and Body are required).
type Notification struct {
	// Format selects the platform (ServiceBusNotification-Format).
	Format Format
	// Body is the payload sent as is.
	Body []byte
	// ContentType defaults to the format's (JSON, XML, or octet-stream for
	// raw WNS) when empty.
	ContentType string
	// Headers are platform headers passed through to NH (apns-priority,
	// X-WNS-Type, ...). Values must not contain CR or LF.
	Headers map[string]string
}

// NewAppleNotification returns an APNs notification; headers such as
// apns-push-type, apns-priority, apns-expiration, apns-topic,
// apns-collapse-id and apns-id pass through to APNs.
func NewAppleNotification(payload []byte, headers map[string]string) *Notification {
	return &Notification{Format: FormatApple, Body: payload, Headers: headers}
}

// NewFcmV1Notification returns an FCM v1 notification. A payload that is not
// already of the form {"message": {...}} is wrapped in it.
func NewFcmV1Notification(payload []byte, headers map[string]string) *Notification {
	return &Notification{Format: FormatFcmV1, Body: wrapFcmV1(payload), Headers: headers}
}

// NewGcmNotification returns a notification in the legacy FCM (gcm) format.
func NewGcmNotification(payload []byte, headers map[string]string) *Notification {
	return &Notification{Format: FormatGcm, Body: payload, Headers: headers}
}

// NewWindowsNotification returns a WNS toast, tile or badge notification
// (XML). X-WNS-Type is taken from the payload's root element (toast, tile,
// badge) unless headers set it.
func NewWindowsNotification(payload []byte, headers map[string]string) *Notification {
	h := cloneHeaders(headers)
	if headerValue(h, "X-WNS-Type") == "" {
		if root := xmlRoot(payload); root == "toast" || root == "tile" || root == "badge" {
			h["X-WNS-Type"] = "wns/" + root
		}
	}
	return &Notification{Format: FormatWindows, Body: payload, Headers: h}
}

// NewWindowsRawNotification returns a raw WNS notification (any bytes),
// sent as application/octet-stream with X-WNS-Type: wns/raw.
func NewWindowsRawNotification(payload []byte, headers map[string]string) *Notification {
	h := cloneHeaders(headers)
	h["X-WNS-Type"] = "wns/raw"
	return &Notification{Format: FormatWindows, Body: payload, ContentType: contentTypeStream, Headers: h}
}

// NewWindowsPhoneNotification returns an MPNS notification (XML). When
// headers do not set them, X-WindowsPhone-Target and X-NotificationClass
// follow the payload: a wp:Toast is target toast class 2, a wp:Tile target
// token class 1.
func NewWindowsPhoneNotification(payload []byte, headers map[string]string) *Notification {
	h := cloneHeaders(headers)
	if headerValue(h, "X-WindowsPhone-Target") == "" {
		switch mpnsKind(payload) {
		case "toast":
			h["X-WindowsPhone-Target"] = "toast"
			setDefault(h, "X-NotificationClass", "2")
		case "tile":
			h["X-WindowsPhone-Target"] = "token"
			setDefault(h, "X-NotificationClass", "1")
		}
	}
	return &Notification{Format: FormatWindowsPhone, Body: payload, Headers: h}
}

// NewAdmNotification returns an Amazon Device Messaging notification.
func NewAdmNotification(payload []byte, headers map[string]string) *Notification {
	return &Notification{Format: FormatAdm, Body: payload, Headers: headers}
}

// NewBaiduNotification returns a Baidu notification.
func NewBaiduNotification(payload []byte, headers map[string]string) *Notification {
	return &Notification{Format: FormatBaidu, Body: payload, Headers: headers}
}

// NewXiaomiNotification returns a Xiaomi notification.
func NewXiaomiNotification(payload []byte, headers map[string]string) *Notification {
	return &Notification{Format: FormatXiaomi, Body: payload, Headers: headers}
}

// NewBrowserNotification returns a web push notification.
func NewBrowserNotification(payload []byte, headers map[string]string) *Notification {
	return &Notification{Format: FormatBrowser, Body: payload, Headers: headers}
}

// NewTemplateNotification returns a template notification: NH fills the
// $(name) placeholders of each installation's templates with properties.
func NewTemplateNotification(properties map[string]string) *Notification {
	b, _ := json.Marshal(properties) // a map[string]string always marshals
	return &Notification{Format: FormatTemplate, Body: b}
}

// NewNotification returns a notification of format f, choosing the same
// defaults as the per-format constructors (FCM v1 wrapping, WNS and MPNS
// headers taken from the payload).
func NewNotification(f Format, payload []byte, headers map[string]string) *Notification {
	switch f {
	case FormatFcmV1:
		return NewFcmV1Notification(payload, headers)
	case FormatWindows:
		if strings.EqualFold(headerValue(headers, "X-WNS-Type"), "wns/raw") {
			return NewWindowsRawNotification(payload, headers)
		}
		return NewWindowsNotification(payload, headers)
	case FormatWindowsPhone:
		return NewWindowsPhoneNotification(payload, headers)
	}
	return &Notification{Format: f, Body: payload, Headers: headers}
}

// contentType returns the Content-Type to send.
func (n *Notification) contentType() string {
	if n.ContentType != "" {
		return n.ContentType
	}
	if n.Format.IsXML() {
		return contentTypeXML
	}
	return contentTypeJSON
}

// reservedHeaders are set by the client and may not be overridden.
var reservedHeaders = map[string]bool{
	"Authorization": true, "Content-Type": true, "Content-Length": true, "Host": true,
	"Servicebusnotification-Format": true, "Servicebusnotification-Tags": true,
	"Servicebusnotification-Devicehandle": true, "Servicebusnotification-Scheduletime": true,
	"Transfer-Encoding": true, "Connection": true,
}

// Validate checks n before it goes on the wire: a known format, a body
// within the platform limit, well-formed JSON or XML for those formats, the
// WNS type for windows, and header names and values that are safe.
func (n *Notification) Validate() error {
	if n == nil {
		return fmt.Errorf("%w: notification is nil", ErrInvalidPayload)
	}
	if n.Format <= FormatUnknown || int(n.Format) >= len(formatNames) {
		return fmt.Errorf("%w: format %d", ErrInvalidFormat, int(n.Format))
	}
	if len(n.Body) == 0 {
		return fmt.Errorf("%w: %s payload is empty", ErrInvalidPayload, n.Format)
	}
	if limit := n.Format.PayloadLimit(); len(n.Body) > limit {
		return fmt.Errorf("%w: %s payload is %d bytes, over the platform limit of %d bytes", ErrPayloadTooLarge, n.Format, len(n.Body), limit)
	}
	for k, v := range n.Headers {
		if err := ValidateHeader(k, v); err != nil {
			return err
		}
		if reservedHeaders[http.CanonicalHeaderKey(k)] {
			return fmt.Errorf("%w: %s is set by the client and cannot be passed", ErrInvalidHeader, k)
		}
	}
	ct := n.contentType()
	switch {
	case n.Format == FormatWindows:
		wt := strings.ToLower(headerValue(n.Headers, "X-WNS-Type"))
		switch wt {
		case "wns/raw":
			return nil
		case "wns/toast", "wns/tile", "wns/badge":
		case "":
			return fmt.Errorf("%w: windows notification needs X-WNS-Type (wns/toast, wns/tile, wns/badge or wns/raw); the payload's root element did not tell", ErrInvalidHeader)
		default:
			return fmt.Errorf("%w: X-WNS-Type %q is not wns/toast, wns/tile, wns/badge or wns/raw", ErrInvalidHeader, wt)
		}
		if !wellFormedXML(n.Body) {
			return fmt.Errorf("%w: windows payload is not well-formed XML", ErrInvalidPayload)
		}
	case n.Format == FormatWindowsPhone:
		if !wellFormedXML(n.Body) {
			return fmt.Errorf("%w: windowsphone payload is not well-formed XML", ErrInvalidPayload)
		}
	case strings.HasPrefix(ct, "application/json"):
		if !json.Valid(n.Body) || !isJSONObject(n.Body) {
			return fmt.Errorf("%w: %s payload is not a JSON object", ErrInvalidPayload, n.Format)
		}
	}
	return nil
}

// ValidateHeader refuses header names that are not HTTP tokens and values
// that hold CR, LF or other control characters (header injection).
func ValidateHeader(name, value string) error {
	if name == "" {
		return fmt.Errorf("%w: empty header name", ErrInvalidHeader)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return fmt.Errorf("%w: header name %q is not a token", ErrInvalidHeader, name)
		}
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return fmt.Errorf("%w: value of %s contains a control character (CR, LF or other)", ErrInvalidHeader, name)
		}
	}
	return nil
}

func isJSONObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

func wellFormedXML(b []byte) bool {
	d := xml.NewDecoder(bytes.NewReader(b))
	depth, roots := 0, 0
	for {
		t, err := d.Token()
		if err == io.EOF {
			return roots == 1 && depth == 0
		}
		if err != nil {
			return false
		}
		switch t := t.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return false
			}
		}
	}
}

// xmlRoot returns the lowercased local name of the root element, or "".
func xmlRoot(b []byte) string {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		t, err := d.Token()
		if err != nil {
			return ""
		}
		if se, ok := t.(xml.StartElement); ok {
			return strings.ToLower(se.Name.Local)
		}
	}
}

// mpnsKind returns "toast" or "tile" for an MPNS <wp:Notification> payload.
func mpnsKind(b []byte) string {
	d := xml.NewDecoder(bytes.NewReader(b))
	depth := 0
	for {
		t, err := d.Token()
		if err != nil {
			return ""
		}
		switch se := t.(type) {
		case xml.StartElement:
			depth++
			if depth == 2 {
				return strings.ToLower(se.Name.Local)
			}
		case xml.EndElement:
			depth--
		}
	}
}

// wrapFcmV1 wraps a JSON object in {"message": ...} unless it already is.
func wrapFcmV1(payload []byte) []byte {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(payload, &top); err != nil {
		return payload // Validate reports it
	}
	if _, ok := top["message"]; ok && len(top) == 1 {
		return payload
	}
	out := make([]byte, 0, len(payload)+12)
	out = append(out, `{"message":`...)
	out = append(out, bytes.TrimSpace(payload)...)
	return append(out, '}')
}

func cloneHeaders(h map[string]string) map[string]string {
	out := make(map[string]string, len(h)+2)
	for k, v := range h {
		out[k] = v
	}
	return out
}

func headerValue(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func setDefault(h map[string]string, name, value string) {
	if headerValue(h, name) == "" {
		h[name] = value
	}
}
