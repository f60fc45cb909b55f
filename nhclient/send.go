package nhclient

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"
)

// SendOptions chooses the audience of a send. The zero value (or nil) is a
// broadcast to every installation of the notification's platform.
type SendOptions struct {
	// Tags sends to the installations that have any of these tags (OR-ed);
	// at most 20.
	Tags []string
	// TagExpression sends to the installations that match the expression
	// (&&, ||, !, parentheses). It excludes Tags.
	TagExpression string
	// Test asks NH for the outcome per registration (a test send). NH
	// handles at most 10 devices this way; the answer is in
	// SendResult.Outcome.
	Test bool
}

// SendResult is NH's answer to a send.
type SendResult struct {
	// NotificationID is the last segment of Location, for
	// GetNotificationOutcomeDetails and CancelNotification; empty when NH
	// did not send a Location (some tiers).
	NotificationID string
	// TrackingID is NH's TrackingId header, for support requests.
	TrackingID string
	// CorrelationID is NH's x-ms-correlation-request-id header.
	CorrelationID string
	// Outcome is the per-registration outcome of a test send.
	Outcome *NotificationOutcome
}

// NotificationOutcome is the answer to a test send.
type NotificationOutcome struct {
	Success int                  `xml:"Success" json:"success"`
	Failure int                  `xml:"Failure" json:"failure"`
	Results []RegistrationResult `xml:"Results>RegistrationResult" json:"results"`
}

// RegistrationResult is the outcome of a test send for one registration.
type RegistrationResult struct {
	ApplicationPlatform string `xml:"ApplicationPlatform" json:"applicationPlatform"`
	PnsHandle           string `xml:"PnsHandle" json:"pnsHandle"`
	RegistrationID      string `xml:"RegistrationId" json:"registrationId"`
	Outcome             string `xml:"Outcome" json:"outcome"`
}

// audienceHeader validates opts and returns the ServiceBusNotification-Tags
// value ("" for a broadcast).
func audienceHeader(opts *SendOptions) (string, error) {
	if opts == nil {
		return "", nil
	}
	if len(opts.Tags) > 0 && opts.TagExpression != "" {
		return "", fmt.Errorf("%w: Tags and TagExpression exclude each other", ErrInvalidAudience)
	}
	if opts.TagExpression != "" {
		if err := ValidateTagExpression(opts.TagExpression); err != nil {
			return "", err
		}
		return opts.TagExpression, nil
	}
	if len(opts.Tags) > MaxTagsOrOnly {
		return "", fmt.Errorf("%w: %d tags; a send may name at most %d", ErrInvalidAudience, len(opts.Tags), MaxTagsOrOnly)
	}
	for _, t := range opts.Tags {
		if err := ValidateTag(t); err != nil {
			return "", err
		}
	}
	return strings.Join(opts.Tags, " || "), nil
}

// formatHeaderValues holds each format's header value, shared read-only
// across requests to spare an allocation per send.
var formatHeaderValues = func() [len(formatNames)][]string {
	var v [len(formatNames)][]string
	for i, n := range formatNames {
		v[i] = []string{n}
	}
	return v
}()

// notificationHeader returns the headers every send of n carries.
func notificationHeader(n *Notification, extra int) http.Header {
	h := make(http.Header, len(n.Headers)+3+extra)
	h["Content-Type"] = []string{n.contentType()}
	h["Servicebusnotification-Format"] = formatHeaderValues[n.Format]
	for k, v := range n.Headers {
		h[http.CanonicalHeaderKey(k)] = []string{v}
	}
	return h
}

// Send sends n to the audience opts chooses (nil: broadcast).
func (c *Client) Send(ctx context.Context, n *Notification, opts *SendOptions) (*SendResult, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	tags, err := audienceHeader(opts)
	if err != nil {
		return nil, err
	}
	h := notificationHeader(n, 1)
	if tags != "" {
		h["Servicebusnotification-Tags"] = []string{tags}
	}
	u := c.sendURL
	if opts != nil && opts.Test {
		u = c.testURL
	}
	resp, err := c.do(ctx, &request{method: http.MethodPost, url: u, body: n.Body, header: h})
	if err != nil {
		return nil, err
	}
	res := sendResult(resp)
	if opts != nil && opts.Test {
		res.Outcome, err = parseOutcome(resp.body)
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

func parseOutcome(body []byte) (*NotificationOutcome, error) {
	var o NotificationOutcome
	if len(bytes.TrimSpace(body)) == 0 {
		return &o, nil
	}
	if err := xml.Unmarshal(body, &o); err != nil {
		return nil, fmt.Errorf("nhclient: reading the NotificationOutcome of a test send: %w", err)
	}
	return &o, nil
}

func sendResult(resp *response) *SendResult {
	r := &SendResult{
		TrackingID:    resp.header.Get("TrackingId"),
		CorrelationID: resp.header.Get("x-ms-correlation-request-id"),
	}
	r.NotificationID = notificationID(resp.header.Get("Location"))
	return r
}

// notificationID returns the last path segment of a Location URL, as in
// https://NS/HUB/messages/ID?api-version=2020-06.
func notificationID(location string) string {
	p, _, _ := strings.Cut(location, "?")
	p, _, _ = strings.Cut(p, "#")
	p = strings.TrimRight(p, "/")
	if i := strings.Index(p, "://"); i >= 0 {
		p = p[i+3:]
		if j := strings.IndexByte(p, '/'); j >= 0 {
			p = p[j:]
		} else {
			return ""
		}
	}
	id := p[strings.LastIndexByte(p, '/')+1:]
	if u, err := url.PathUnescape(id); err == nil {
		return u
	}
	return id
}

// SendAppleNotification sends an APNs payload (see NewAppleNotification).
func (c *Client) SendAppleNotification(ctx context.Context, payload []byte, opts *SendOptions) (*SendResult, error) {
	return c.Send(ctx, NewAppleNotification(payload, nil), opts)
}

// SendFcmV1Notification sends an FCM v1 payload (see NewFcmV1Notification).
func (c *Client) SendFcmV1Notification(ctx context.Context, payload []byte, opts *SendOptions) (*SendResult, error) {
	return c.Send(ctx, NewFcmV1Notification(payload, nil), opts)
}

// SendWindowsNotification sends a WNS toast, tile or badge (see
// NewWindowsNotification).
func (c *Client) SendWindowsNotification(ctx context.Context, payload []byte, opts *SendOptions) (*SendResult, error) {
	return c.Send(ctx, NewWindowsNotification(payload, nil), opts)
}

// SendTemplateNotification sends template properties (see
// NewTemplateNotification).
func (c *Client) SendTemplateNotification(ctx context.Context, properties map[string]string, opts *SendOptions) (*SendResult, error) {
	return c.Send(ctx, NewTemplateNotification(properties), opts)
}

// validateDeviceHandle refuses empty handles and handles that cannot be a
// header value.
func validateDeviceHandle(h string) error {
	if strings.TrimSpace(h) == "" {
		return fmt.Errorf("%w: empty device handle", ErrInvalidDeviceHandle)
	}
	if len(h) > 4096 {
		return fmt.Errorf("%w: device handle is %d bytes, over 4096", ErrInvalidDeviceHandle, len(h))
	}
	if err := ValidateHeader("ServiceBusNotification-DeviceHandle", h); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidDeviceHandle, err)
	}
	return nil
}

// SendDirectNotification sends n to one device by its PNS handle (device
// token, FCM registration token, channel URI), with no installation needed.
func (c *Client) SendDirectNotification(ctx context.Context, n *Notification, deviceHandle string) (*SendResult, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	if err := validateDeviceHandle(deviceHandle); err != nil {
		return nil, err
	}
	h := notificationHeader(n, 1)
	h["Servicebusnotification-Devicehandle"] = []string{deviceHandle}
	resp, err := c.do(ctx, &request{method: http.MethodPost, url: c.directURL, body: n.Body, header: h})
	if err != nil {
		return nil, err
	}
	return sendResult(resp), nil
}

// MaxBatchDevices is the most device handles NH takes in one batch request.
const MaxBatchDevices = 1000

// BatchResult is the result of a batch direct send: one SendResult per
// request that NH accepted, and the handles of every request that failed.
type BatchResult struct {
	Results []*SendResult
	// Failed lists the handles of the requests that failed, with why.
	Failed []BatchFailure
}

// BatchFailure is one failed request of a batch direct send.
type BatchFailure struct {
	DeviceHandles []string
	Err           error
}

// SendDirectBatchNotification sends n to many devices by their PNS handles,
// in multipart/mixed requests of at most 1,000 handles (larger lists are
// split). The result gathers every request's outcome; the error joins the
// failed requests' errors (nil when all succeeded), and res.Failed tells
// which handles they held so that the caller can retry just those.
func (c *Client) SendDirectBatchNotification(ctx context.Context, n *Notification, deviceHandles []string) (*BatchResult, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	if len(deviceHandles) == 0 {
		return nil, fmt.Errorf("%w: no device handles", ErrInvalidDeviceHandle)
	}
	for i, d := range deviceHandles {
		if err := validateDeviceHandle(d); err != nil {
			return nil, fmt.Errorf("device handle %d: %w", i, err)
		}
	}
	res := &BatchResult{}
	var errs []error
	start := 0
	for ; start < len(deviceHandles) && ctx.Err() == nil; start += MaxBatchDevices {
		chunk := deviceHandles[start:min(start+MaxBatchDevices, len(deviceHandles))]
		body, ctype, err := batchBody(n, chunk)
		if err != nil {
			return nil, err
		}
		h := make(http.Header, len(n.Headers)+2)
		for k, v := range n.Headers {
			h[http.CanonicalHeaderKey(k)] = []string{v}
		}
		h["Content-Type"] = []string{ctype}
		h["Servicebusnotification-Format"] = formatHeaderValues[n.Format]
		resp, err := c.do(ctx, &request{method: http.MethodPost, url: c.batchURL, body: body, header: h})
		if err != nil {
			res.Failed = append(res.Failed, BatchFailure{DeviceHandles: chunk, Err: err})
			errs = append(errs, fmt.Errorf("devices %d to %d: %w", start, start+len(chunk)-1, err))
			continue
		}
		res.Results = append(res.Results, sendResult(resp))
	}
	if start < len(deviceHandles) { // the context ended: report what was not sent
		err := fmt.Errorf("devices %d to %d not sent: %w", start, len(deviceHandles)-1, context.Cause(ctx))
		res.Failed = append(res.Failed, BatchFailure{DeviceHandles: deviceHandles[start:], Err: err})
		errs = append(errs, err)
	}
	return res, errors.Join(errs...)
}

// batchBody builds the multipart/mixed body of a batch direct send: a part
// "notification" with the payload and a part "devices" with the handles.
func batchBody(n *Notification, handles []string) ([]byte, string, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	ph := textproto.MIMEHeader{}
	ph.Set("Content-Type", n.contentType())
	ph.Set("Content-Disposition", "inline; name=notification")
	p, err := w.CreatePart(ph)
	if err != nil {
		return nil, "", err
	}
	p.Write(n.Body)
	dh := textproto.MIMEHeader{}
	dh.Set("Content-Type", contentTypeJSON)
	dh.Set("Content-Disposition", "inline; name=devices")
	p, err = w.CreatePart(dh)
	if err != nil {
		return nil, "", err
	}
	if err := json.NewEncoder(p).Encode(handles); err != nil {
		return nil, "", err
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	if buf.Len() > MaxRequestBody*16 {
		return nil, "", fmt.Errorf("%w: batch body is %d bytes", ErrPayloadTooLarge, buf.Len())
	}
	return buf.Bytes(), "multipart/mixed; boundary=" + w.Boundary(), nil
}

// MaxScheduleAhead is how far ahead NH schedules a notification.
const MaxScheduleAhead = 7 * 24 * time.Hour

// ScheduleNotification asks NH to send n at a time in the future (at most 7
// days ahead; Standard tier) to the audience opts chooses. The result's
// NotificationID cancels it.
func (c *Client) ScheduleNotification(ctx context.Context, n *Notification, at time.Time, opts *SendOptions) (*SendResult, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	if err := ValidateScheduleTime(at, c.now()); err != nil {
		return nil, err
	}
	if opts != nil && opts.Test {
		return nil, fmt.Errorf("%w: a scheduled notification cannot be a test send", ErrInvalidAudience)
	}
	tags, err := audienceHeader(opts)
	if err != nil {
		return nil, err
	}
	h := notificationHeader(n, 2)
	h["Servicebusnotification-Scheduletime"] = []string{at.UTC().Format("2006-01-02T15:04:05Z")}
	if tags != "" {
		h["Servicebusnotification-Tags"] = []string{tags}
	}
	resp, err := c.do(ctx, &request{method: http.MethodPost, url: c.scheduleURL, body: n.Body, header: h})
	if err != nil {
		return nil, err
	}
	return sendResult(resp), nil
}

// ValidateScheduleTime checks that at is after now and at most 7 days ahead.
func ValidateScheduleTime(at, now time.Time) error {
	if !at.After(now) {
		return fmt.Errorf("%w: %s is not in the future", ErrInvalidScheduleTime, at.UTC().Format(time.RFC3339))
	}
	if at.Sub(now) > MaxScheduleAhead {
		return fmt.Errorf("%w: %s is more than 7 days ahead", ErrInvalidScheduleTime, at.UTC().Format(time.RFC3339))
	}
	return nil
}

// CancelNotification cancels a scheduled notification by its id.
func (c *Client) CancelNotification(ctx context.Context, notificationID string) error {
	if err := validateID("notification id", notificationID); err != nil {
		return err
	}
	_, err := c.do(ctx, &request{method: http.MethodDelete, url: c.hubURL + "/schedulednotifications/" + url.PathEscape(notificationID) + "?" + c.apiQuery})
	return err
}

// validateID refuses ids that are empty, hold a path separator, a dot
// segment or a control character.
func validateID(what, id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty %s", ErrInvalidID, what)
	}
	if len(id) > 256 {
		return fmt.Errorf("%w: %s is %d characters, over 256", ErrInvalidID, what, len(id))
	}
	if id == "." || id == ".." || strings.ContainsAny(id, "/\\?#%") {
		return fmt.Errorf("%w: %s %q holds a path separator, a dot segment, '?', '#' or '%%'", ErrInvalidID, what, id)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < ' ' || id[i] == 0x7f {
			return fmt.Errorf("%w: %s holds a control character", ErrInvalidID, what)
		}
	}
	return nil
}

// NotificationDetails is NH's telemetry for one sent notification
// (Standard tier).
type NotificationDetails struct {
	NotificationID       string         `xml:"NotificationId"`
	Location             string         `xml:"Location"`
	State                string         `xml:"State"`
	EnqueueTime          string         `xml:"EnqueueTime"`
	StartTime            string         `xml:"StartTime"`
	EndTime              string         `xml:"EndTime"`
	PnsErrorDetailsURI   string         `xml:"PnsErrorDetailsUri"`
	TargetPlatforms      string         `xml:"TargetPlatforms"`
	NotificationBody     string         `xml:"NotificationBody"`
	ApnsOutcomeCounts    []OutcomeCount `xml:"ApnsOutcomeCounts>Outcome"`
	FcmOutcomeCounts     []OutcomeCount `xml:"GcmOutcomeCounts>Outcome"`
	FcmV1OutcomeCounts   []OutcomeCount `xml:"FcmV1OutcomeCounts>Outcome"`
	WnsOutcomeCounts     []OutcomeCount `xml:"WnsOutcomeCounts>Outcome"`
	MpnsOutcomeCounts    []OutcomeCount `xml:"MpnsOutcomeCounts>Outcome"`
	AdmOutcomeCounts     []OutcomeCount `xml:"AdmOutcomeCounts>Outcome"`
	BaiduOutcomeCounts   []OutcomeCount `xml:"BaiduOutcomeCounts>Outcome"`
	XiaomiOutcomeCounts  []OutcomeCount `xml:"XiaomiOutcomeCounts>Outcome"`
	BrowserOutcomeCounts []OutcomeCount `xml:"BrowserOutcomeCounts>Outcome"`
}

// OutcomeCount is how many deliveries to one platform ended in one state.
type OutcomeCount struct {
	Name  string `xml:"Name"`
	Count int    `xml:"Count"`
}

// GetNotificationOutcomeDetails returns NH's telemetry for a notification
// id (from SendResult.NotificationID).
func (c *Client) GetNotificationOutcomeDetails(ctx context.Context, notificationID string) (*NotificationDetails, error) {
	if err := validateID("notification id", notificationID); err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, &request{method: http.MethodGet, url: c.hubURL + "/messages/" + url.PathEscape(notificationID) + "?" + c.apiQuery})
	if err != nil {
		return nil, err
	}
	var d NotificationDetails
	if err := xml.Unmarshal(resp.body, &d); err != nil {
		return nil, fmt.Errorf("nhclient: reading NotificationDetails: %w", err)
	}
	return &d, nil
}
