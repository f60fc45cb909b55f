package handler

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/nhpush/nhpush/nhclient"
)

// clientErrorCodes maps nhclient's input errors to API error codes and the
// request field they concern.
var clientErrorCodes = []struct {
	err   error
	code  string
	field string
}{
	{nhclient.ErrPayloadTooLarge, "payload_too_large", "payload"},
	{nhclient.ErrInvalidPayload, "invalid_payload", "payload"},
	{nhclient.ErrInvalidHeader, "invalid_header", "headers"},
	{nhclient.ErrInvalidFormat, "invalid_platform", "platform"},
	{nhclient.ErrInvalidTagExpression, "invalid_tag_expression", "tagExpression"},
	{nhclient.ErrInvalidTag, "invalid_tag", "tags"},
	{nhclient.ErrInvalidAudience, "conflicting_audience", ""},
	{nhclient.ErrInvalidDeviceHandle, "invalid_device_handle", "deviceHandle"},
	{nhclient.ErrInvalidScheduleTime, "invalid_schedule_time", "scheduleTime"},
	{nhclient.ErrInvalidInstallation, "invalid_installation", ""},
	{nhclient.ErrInvalidID, "invalid_id", "id"},
}

// nhCodes names NH's answers.
var nhCodes = map[int]string{
	400: "nh_bad_request", 401: "nh_unauthorized", 403: "nh_forbidden", 404: "nh_not_found",
	408: "nh_timeout", 409: "nh_conflict", 410: "nh_gone", 413: "nh_too_large", 429: "nh_throttled",
}

// fromClientError returns err as an API error: an *Error as it is, and an
// error of nhclient mapped: its input errors are the caller's 4xx; NH's
// answers keep NH's status, tracking id and Retry-After; no answer at all is
// 502 (504 on a timeout).
func fromClientError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	msg := strings.TrimPrefix(err.Error(), "nhclient: ")
	for _, c := range clientErrorCodes {
		if errors.Is(err, c.err) {
			status := http.StatusBadRequest
			if c.err == nhclient.ErrPayloadTooLarge {
				status = http.StatusRequestEntityTooLarge
			}
			return &Error{Status: status, Code: c.code, Field: c.field, Message: msg, err: err}
		}
	}
	var re *nhclient.ResponseError
	if errors.As(err, &re) {
		code := nhCodes[re.StatusCode]
		if code == "" {
			code = "nh_error"
			if re.StatusCode >= 500 {
				code = "nh_unavailable"
			}
		}
		status := re.StatusCode
		if status < 400 || status > 599 {
			status = http.StatusBadGateway
		}
		return &Error{Status: status, Code: code, Message: "Notification Hubs answered " + msg, TrackingID: re.TrackingID,
			RetryAfter: re.RetryAfter, Retryable: re.Retryable() || re.StatusCode == 401 || re.StatusCode == 403, err: err}
	}
	if errors.Is(err, context.Canceled) {
		return &Error{Status: 499, Code: "canceled", Message: "the request was canceled", Retryable: true, err: err}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Status: http.StatusGatewayTimeout, Code: "nh_timeout", Message: "no answer from Notification Hubs in time: " + msg, Retryable: true, err: err}
	}
	return &Error{Status: http.StatusBadGateway, Code: "nh_unreachable", Message: "could not reach Notification Hubs: " + msg, Retryable: nhclient.IsRetryable(err), err: err}
}
