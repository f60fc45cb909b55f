package handler_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBadRequests(t *testing.T) {
	e := newEnv(t)
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	far := time.Now().Add(8 * 24 * time.Hour).UTC().Format(time.RFC3339)
	soon := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	tags21 := `["` + strings.TrimSuffix(strings.Repeat(`t","`, 21), `","`) + `"]`
	big := `{"platform":"template","payload":{"a":"` + strings.Repeat("x", 70*1024) + `"}}`
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		code        string
		field       string
	}{
		{"empty body", "application/json", ``, 400, "invalid_json", ""},
		{"not an object", "application/json", `[1]`, 400, "invalid_json", ""},
		{"truncated", "application/json", `{"platform":"apple"`, 400, "invalid_json", ""},
		{"trailing data", "application/json", `{"platform":"apple","payload":{}} {}`, 400, "invalid_json", ""},
		{"unknown field", "application/json", `{"platform":"apple","payload":{},"tag":"x"}`, 400, "unknown_field", "tag"},
		{"platform wrong type", "application/json", `{"platform":1,"payload":{}}`, 400, "invalid_field_type", "platform"},
		{"tags wrong type", "application/json", `{"platform":"apple","payload":{},"tags":"sports"}`, 400, "invalid_field_type", "tags"},
		{"test wrong type", "application/json", `{"platform":"apple","payload":{},"test":"yes"}`, 400, "invalid_field_type", "test"},
		{"headers wrong type", "application/json", `{"platform":"apple","payload":{},"headers":{"a":1}}`, 400, "invalid_field_type", "headers"},
		{"missing platform", "application/json", `{"payload":{}}`, 400, "missing_platform", "platform"},
		{"unknown platform", "application/json", `{"platform":"ios","payload":{}}`, 400, "invalid_platform", "platform"},
		{"missing payload", "application/json", `{"platform":"apple"}`, 400, "missing_payload", "payload"},
		{"null payload", "application/json", `{"platform":"apple","payload":null}`, 400, "missing_payload", "payload"},
		{"string payload for apple", "application/json", `{"platform":"apple","payload":"hi"}`, 400, "invalid_payload", "payload"},
		{"object payload for windows", "application/json", `{"platform":"windows","payload":{"a":1}}`, 400, "invalid_payload", "payload"},
		{"malformed XML", "application/json", `{"platform":"windows","payload":"<toast>","headers":{"X-WNS-Type":"wns/toast"}}`, 400, "invalid_payload", "payload"},
		{"windows without type", "application/json", `{"platform":"windows","payload":"<other/>"}`, 400, "invalid_header", "headers"},
		{"template non-string", "application/json", `{"platform":"template","payload":{"n":1}}`, 400, "invalid_payload", "payload.n"},
		{"template array", "application/json", `{"platform":"template","payload":["x"]}`, 400, "invalid_payload", "payload"},
		{"apple over 4 KB", "application/json", `{"platform":"apple","payload":{"a":"` + strings.Repeat("x", 4100) + `"}}`, 413, "payload_too_large", "payload"},
		{"tags and expression", "application/json", `{"platform":"apple","payload":{},"tags":["a"],"tagExpression":"b"}`, 400, "conflicting_audience", "tagExpression"},
		{"handle and tags", "application/json", `{"platform":"apple","payload":{},"tags":["a"],"deviceHandle":"h"}`, 400, "conflicting_audience", "deviceHandle"},
		{"handle and handles", "application/json", `{"platform":"apple","payload":{},"deviceHandle":"h","deviceHandles":["x"]}`, 400, "conflicting_audience", "deviceHandles"},
		{"direct test", "application/json", `{"platform":"apple","payload":{},"deviceHandle":"h","test":true}`, 400, "invalid_test", "test"},
		{"scheduled direct", "application/json", `{"platform":"apple","payload":{},"deviceHandle":"h","scheduleTime":"` + soon + `"}`, 400, "conflicting_audience", "scheduleTime"},
		{"scheduled test", "application/json", `{"platform":"apple","payload":{},"scheduleTime":"` + soon + `","test":true}`, 400, "invalid_test", "test"},
		{"empty tags", "application/json", `{"platform":"apple","payload":{},"tags":[]}`, 400, "invalid_tag", "tags"},
		{"bad tag", "application/json", `{"platform":"apple","payload":{},"tags":["ok","not ok"]}`, 400, "invalid_tag", "tags[1]"},
		{"long tag", "application/json", `{"platform":"apple","payload":{},"tags":["` + strings.Repeat("t", 121) + `"]}`, 400, "invalid_tag", "tags[0]"},
		{"21 tags", "application/json", `{"platform":"apple","payload":{},"tags":` + tags21 + `}`, 400, "invalid_tag", "tags"},
		{"bad expression", "application/json", `{"platform":"apple","payload":{},"tagExpression":"a && (b"}`, 400, "invalid_tag_expression", "tagExpression"},
		{"expression over 6", "application/json", `{"platform":"apple","payload":{},"tagExpression":"a&&b&&c&&d&&e&&f&&g"}`, 400, "invalid_tag_expression", "tagExpression"},
		{"blank handle", "application/json", `{"platform":"apple","payload":{},"deviceHandle":"  "}`, 400, "invalid_device_handle", "deviceHandle"},
		{"CRLF handle", "application/json", `{"platform":"apple","payload":{},"deviceHandle":"a\r\nb"}`, 400, "invalid_device_handle", "deviceHandle"},
		{"empty handles", "application/json", `{"platform":"apple","payload":{},"deviceHandles":[]}`, 400, "invalid_device_handle", "deviceHandles"},
		{"blank in handles", "application/json", `{"platform":"apple","payload":{},"deviceHandles":["a",""]}`, 400, "invalid_device_handle", "deviceHandles[1]"},
		{"schedule not a time", "application/json", `{"platform":"apple","payload":{},"scheduleTime":"tomorrow"}`, 400, "invalid_schedule_time", "scheduleTime"},
		{"schedule in the past", "application/json", `{"platform":"apple","payload":{},"scheduleTime":"` + past + `"}`, 400, "invalid_schedule_time", "scheduleTime"},
		{"schedule 8 days ahead", "application/json", `{"platform":"apple","payload":{},"scheduleTime":"` + far + `"}`, 400, "invalid_schedule_time", "scheduleTime"},
		{"CRLF in header", "application/json", `{"platform":"apple","payload":{},"headers":{"apns-topic":"a\r\nX-Evil: 1"}}`, 400, "invalid_header", "headers"},
		{"reserved header", "application/json", `{"platform":"apple","payload":{},"headers":{"Authorization":"x"}}`, 400, "invalid_header", "headers"},
		{"body over 64 KB", "application/json", big, 413, "body_too_large", ""},
		{"form content type", "application/x-www-form-urlencoded", `{"platform":"apple","payload":{}}`, 415, "unsupported_media_type", "Content-Type"},
		{"text content type", "text/plain", `{"platform":"apple","payload":{}}`, 415, "unsupported_media_type", "Content-Type"},
	}
	require.GreaterOrEqual(t, len(tests), 30)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _, out := e.call(t, "POST", "/api/notifications", tt.contentType, tt.body)
			require.Equal(t, tt.status, st, "%v", out)
			errObj, ok := out["error"].(map[string]any)
			require.True(t, ok, "%v", out)
			assert.Equal(t, tt.code, errObj["code"])
			assert.NotEmpty(t, errObj["message"])
			if tt.field != "" {
				assert.Equal(t, tt.field, errObj["field"], "%v", errObj)
			}
		})
	}
	assert.Empty(t, e.emu.Notifications(), "no bad request reaches NH")

	for _, m := range []string{"GET", "PUT", "DELETE"} {
		st, hdr, _ := e.call(t, m, "/api/notifications", "", "")
		assert.Equal(t, 405, st, m)
		assert.Equal(t, "POST", hdr.Get("Allow"))
	}
	st, _, out := e.call(t, "GET", "/nope", "", "")
	assert.Equal(t, 404, st)
	assert.Equal(t, "not_found", out["error"].(map[string]any)["code"])
}
