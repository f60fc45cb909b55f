package nhclient

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors for input the client refuses before anything goes on the
// wire. Errors returned by the client wrap them; test with errors.Is.
var (
	ErrInvalidConnectionString = errors.New("nhclient: invalid connection string")
	ErrInvalidHub              = errors.New("nhclient: invalid hub name")
	ErrInvalidFormat           = errors.New("nhclient: invalid notification format")
	ErrInvalidPayload          = errors.New("nhclient: invalid payload")
	ErrPayloadTooLarge         = errors.New("nhclient: payload too large")
	ErrInvalidHeader           = errors.New("nhclient: invalid header")
	ErrInvalidTag              = errors.New("nhclient: invalid tag")
	ErrInvalidTagExpression    = errors.New("nhclient: invalid tag expression")
	ErrInvalidAudience         = errors.New("nhclient: invalid audience")
	ErrInvalidDeviceHandle     = errors.New("nhclient: invalid device handle")
	ErrInvalidScheduleTime     = errors.New("nhclient: invalid schedule time")
	ErrInvalidInstallation     = errors.New("nhclient: invalid installation")
	ErrInvalidID               = errors.New("nhclient: invalid id")
)

// ResponseError is a non-success answer of Notification Hubs. Every error
// that comes from the service is (or wraps) a *ResponseError; use errors.As.
type ResponseError struct {
	// StatusCode is the HTTP status NH answered.
	StatusCode int
	// Code is the <Code> of NH's XML error body (usually the status again),
	// empty when the body had none.
	Code string
	// Detail is the <Detail> of NH's XML error body, or the start of the raw
	// body when it was not XML.
	Detail string
	// TrackingID is NH's TrackingId header (or the one in Detail).
	TrackingID string
	// RetryAfter is the wait NH asked for in Retry-After, zero when absent.
	RetryAfter time.Duration
	// Method and URL identify the request (the URL holds no secret).
	Method, URL string
}

// Error describes the request, NH's status and detail, the tracking id and
// the wait asked for.
func (e *ResponseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "nhclient: %s %s: %d %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.TrackingID != "" && !strings.Contains(e.Detail, e.TrackingID) {
		b.WriteString(" (TrackingId: ")
		b.WriteString(e.TrackingID)
		b.WriteString(")")
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Retryable reports whether the same request may succeed later: 408, 429,
// 5xx, and 403 when NH sent Retry-After (throttling on older tiers).
func (e *ResponseError) Retryable() bool {
	switch {
	case e.StatusCode == http.StatusRequestTimeout, e.StatusCode == http.StatusTooManyRequests:
		return true
	case e.StatusCode == http.StatusForbidden:
		return e.RetryAfter > 0
	case e.StatusCode >= 500:
		return e.StatusCode != http.StatusNotImplemented && e.StatusCode != http.StatusHTTPVersionNotSupported
	}
	return false
}

// IsRetryable reports whether err is worth retrying later: a retryable NH
// answer (see ResponseError.Retryable), a timeout or a connection failure.
// Invalid input, cancellation by the caller and permanent NH answers are not.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	var re *ResponseError
	if errors.As(err, &re) {
		return re.Retryable()
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var te *TransportError
	return errors.As(err, &te)
}

// TransportError is a failure to get an answer from NH at all: a refused or
// dropped connection, a TLS failure, a timeout. It is retryable.
type TransportError struct {
	Method, URL string
	Err         error
}

// Error describes the request and the failure.
func (e *TransportError) Error() string {
	return fmt.Sprintf("nhclient: %s %s: %v", e.Method, e.URL, e.Err)
}

// Unwrap returns the underlying failure.
func (e *TransportError) Unwrap() error { return e.Err }

// nhErrorBody is the XML NH answers errors with:
// <Error><Code>401</Code><Detail>... TrackingId:...</Detail></Error>.
type nhErrorBody struct {
	Code   string `xml:"Code"`
	Detail string `xml:"Detail"`
}

// newResponseError builds the error for a non-2xx answer from its status,
// headers and (already read, possibly truncated) body.
func newResponseError(method, url string, resp *http.Response, body []byte, now time.Time) *ResponseError {
	e := &ResponseError{
		StatusCode: resp.StatusCode,
		TrackingID: resp.Header.Get("TrackingId"),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), now),
		Method:     method,
		URL:        url,
	}
	var x nhErrorBody
	if len(body) > 0 && xml.Unmarshal(body, &x) == nil && (x.Code != "" || x.Detail != "") {
		e.Code = strings.TrimSpace(x.Code)
		e.Detail = strings.TrimSpace(x.Detail)
	} else if len(body) > 0 {
		d := strings.TrimSpace(string(body))
		if len(d) > 512 {
			d = d[:512] + "..."
		}
		e.Detail = d
	}
	if e.TrackingID == "" {
		if _, after, ok := strings.Cut(e.Detail, "TrackingId:"); ok {
			id, _, _ := strings.Cut(strings.TrimSpace(after), ",")
			e.TrackingID = strings.TrimSpace(id)
		}
	}
	return e
}

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP date; zero
// when absent, malformed or in the past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > int64(24*time.Hour/time.Second) {
			n = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
