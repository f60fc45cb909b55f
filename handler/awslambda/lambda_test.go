package awslambda

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/nhpush/nhpush/handler"
	"github.com/nhpush/nhpush/nhclient"
	"github.com/nhpush/nhpush/nhclient/nhtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newTestHandler(t *testing.T) (*Handler, *nhtest.Server, *bytes.Buffer) {
	t.Helper()
	emu := nhtest.NewServer()
	t.Cleanup(emu.Close)
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	client, err := nhclient.NewClientFromConnectionString(emu.ConnectionString, emu.Hub,
		&nhclient.ClientOptions{HTTPClient: emu.Client(), Logger: logger, Retry: nhclient.RetryOptions{BaseDelay: time.Millisecond, MaxDelay: 20 * time.Millisecond}})
	require.NoError(t, err)
	return NewHandler(handler.NewService(client, logger), logger, 4), emu, &logs
}

// fixture reads an event from aws-lambda-go's own events/testdata.
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-lambda-go").Output()
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "events", "testdata", name))
	require.NoError(t, err)
	return b
}

func TestAWSFixturesHTTP(t *testing.T) {
	h, emu, _ := newTestHandler(t)
	for _, name := range []string{"apigw-v2-request-iam.json", "apigw-v2-request-no-authorizer.json", "lambda-urls-request.json"} {
		out, err := h.Invoke(context.Background(), fixture(t, name))
		require.NoError(t, err, name)
		resp := out.(events.APIGatewayV2HTTPResponse)
		assert.Contains(t, []int{404, 405}, resp.StatusCode, name)
		assert.Contains(t, resp.Body, `"error"`, name)
		assert.Equal(t, "application/json; charset=utf-8", resp.Headers["Content-Type"])
	}
	assert.Empty(t, emu.Notifications())
}

func TestAWSFixtureSQS(t *testing.T) {
	h, emu, logs := newTestHandler(t)
	out, err := h.Invoke(context.Background(), fixture(t, "sqs-event.json"))
	require.NoError(t, err)
	resp := out.(events.SQSEventResponse)
	assert.Equal(t, []events.SQSBatchItemFailure{{ItemIdentifier: "MessageID_1"}}, resp.BatchItemFailures,
		`"Message Body" can never succeed: the record is reported for the dead-letter queue`)
	assert.Contains(t, logs.String(), `"code":"invalid_json"`)
	assert.Empty(t, emu.Notifications())
}

func httpEvent(method, path, stage, body string, b64 bool) events.APIGatewayV2HTTPRequest {
	e := events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: path, Headers: map[string]string{"content-type": "application/json"}, Body: body, IsBase64Encoded: b64}
	e.RequestContext.Stage = stage
	e.RequestContext.HTTP.Method = method
	e.RequestContext.HTTP.Path = path
	return e
}

func TestHTTPEvents(t *testing.T) {
	h, emu, _ := newTestHandler(t)
	ctx := context.Background()
	send := `{"platform":"apple","payload":{"aps":{"alert":"hi"}},"tags":["sports"]}`

	resp, err := h.HandleHTTP(ctx, httpEvent("POST", "/api/notifications", "$default", send, false))
	require.NoError(t, err)
	assert.Equal(t, 201, resp.StatusCode, resp.Body)

	resp, _ = h.HandleHTTP(ctx, httpEvent("POST", "/api/notifications", "$default", base64.StdEncoding.EncodeToString([]byte(send)), true))
	assert.Equal(t, 201, resp.StatusCode, "Base64 body: %s", resp.Body)

	resp, _ = h.HandleHTTP(ctx, httpEvent("POST", "/prod/api/notifications", "prod", send, false))
	assert.Equal(t, 201, resp.StatusCode, "a named stage's prefix is removed: %s", resp.Body)

	resp, _ = h.HandleHTTP(ctx, httpEvent("POST", "/api/notifications", "$default", "!!", true))
	assert.Equal(t, 400, resp.StatusCode)

	resp, _ = h.HandleHTTP(ctx, httpEvent("POST", "/api/notifications", "$default", `{"platform":"apple"}`, false))
	assert.Equal(t, 400, resp.StatusCode)
	assert.Contains(t, resp.Body, `"field":"payload"`)

	resp, _ = h.HandleHTTP(ctx, httpEvent("PUT", "/api/installations/dev-1", "$default", `{"platform":"fcmv1","pushChannel":"t"}`, false))
	assert.Equal(t, 204, resp.StatusCode, resp.Body)
	resp, _ = h.HandleHTTP(ctx, httpEvent("GET", "/api/installations/dev-1", "$default", "", false))
	assert.Equal(t, 200, resp.StatusCode)
	assert.Contains(t, resp.Body, `"installationId":"dev-1"`)

	emu.InjectFault(nhtest.Fault{Count: 4, Status: 429, RetryAfter: "90"})
	resp, _ = h.HandleHTTP(ctx, httpEvent("POST", "/api/notifications", "$default", send, false))
	assert.Equal(t, 429, resp.StatusCode)
	assert.Equal(t, "90", resp.Headers["Retry-After"])
	assert.Len(t, emu.Notifications(), 3)
}

func sqsEvent(bodies ...string) events.SQSEvent {
	var e events.SQSEvent
	for i, b := range bodies {
		e.Records = append(e.Records, events.SQSMessage{MessageId: "m" + string(rune('0'+i)), Body: b, EventSource: "aws:sqs",
			Attributes: map[string]string{"ApproximateReceiveCount": "1"}})
	}
	return e
}

func TestSQSBatchReportsExactlyTheFailures(t *testing.T) {
	h, emu, logs := newTestHandler(t)
	valid := func(tag string) string {
		return `{"platform":"fcmv1","payload":{"data":{}},"tags":["` + tag + `"]}`
	}
	// m2 is invalid (dead-letter), m4 hits NH 400 (dead-letter); every other
	// record is valid and must be sent exactly once.
	emu.InjectFault(nhtest.Fault{Count: 1, Status: 400, PathContains: "/messages"})
	e := sqsEvent(valid("a"), valid("b"), `{"platform":"nope","payload":{}}`, valid("c"), valid("d"), valid("e"))
	// Serialise so that the NH 400 lands on a known record.
	h.concurrency = 1
	resp, err := h.HandleSQS(context.Background(), e)
	require.NoError(t, err)
	assert.Equal(t, []events.SQSBatchItemFailure{{ItemIdentifier: "m0"}, {ItemIdentifier: "m2"}}, resp.BatchItemFailures)
	assert.Len(t, emu.Notifications(), 4)
	assert.Contains(t, logs.String(), `"code":"invalid_platform"`)
	assert.Contains(t, logs.String(), `"code":"nh_bad_request"`)
}

func TestSQSTransientFailuresComeBack(t *testing.T) {
	h, emu, _ := newTestHandler(t)
	emu.InjectFault(nhtest.Fault{Count: 4, Status: 503})
	resp, err := h.HandleSQS(context.Background(), sqsEvent(`{"platform":"apple","payload":{"aps":{}}}`))
	require.NoError(t, err)
	assert.Equal(t, []events.SQSBatchItemFailure{{ItemIdentifier: "m0"}}, resp.BatchItemFailures)
}

func TestSQSPanicFailsOnlyItsRecord(t *testing.T) {
	h, emu, logs := newTestHandler(t)
	real := h.process
	h.process = func(ctx context.Context, b []byte) handler.MessageResult {
		if string(b) == "boom" {
			panic("boom")
		}
		return real(ctx, b)
	}
	resp, err := h.HandleSQS(context.Background(), sqsEvent(`{"platform":"apple","payload":{"aps":{}}}`, "boom", `{"platform":"apple","payload":{"aps":{}}}`))
	require.NoError(t, err)
	assert.Equal(t, []events.SQSBatchItemFailure{{ItemIdentifier: "m1"}}, resp.BatchItemFailures)
	assert.Len(t, emu.Notifications(), 2)
	assert.Contains(t, logs.String(), "panicked")
}

func TestSQSConcurrencyIsBounded(t *testing.T) {
	h, emu, _ := newTestHandler(t)
	emu.InjectFault(nhtest.Fault{Fraction: 1, Latency: nhtest.Duration(20 * time.Millisecond)})
	var bodies []string
	for range 16 {
		bodies = append(bodies, `{"platform":"apple","payload":{"aps":{}}}`)
	}
	start := time.Now()
	resp, err := h.HandleSQS(context.Background(), sqsEvent(bodies...))
	require.NoError(t, err)
	assert.Empty(t, resp.BatchItemFailures)
	assert.Len(t, emu.Notifications(), 16)
	// 16 records at 4 at a time, 20 ms each: at least 4 rounds.
	assert.GreaterOrEqual(t, time.Since(start), 80*time.Millisecond)
}

func TestInvokeRejectsOtherEvents(t *testing.T) {
	h, _, _ := newTestHandler(t)
	for _, ev := range []string{`{}`, `[]`, `{"Records":[{"eventSource":"aws:sns"}]}`, `nope`, `{"requestContext":{}}`} {
		_, err := h.Invoke(context.Background(), json.RawMessage(ev))
		assert.ErrorIs(t, err, ErrUnsupportedEvent, ev)
	}
}

func FuzzInvoke(f *testing.F) {
	emu := nhtest.NewServer()
	defer emu.Close()
	client, _ := nhclient.NewClientFromConnectionString(emu.ConnectionString, emu.Hub, &nhclient.ClientOptions{HTTPClient: emu.Client(), Retry: nhclient.RetryOptions{MaxRetries: -1}})
	h := NewHandler(handler.NewService(client, slog.New(slog.DiscardHandler)), slog.New(slog.DiscardHandler), 2)
	f.Add([]byte(`{"Records":[{"messageId":"1","eventSource":"aws:sqs","body":"{}"}]}`))
	f.Add([]byte(`{"version":"2.0","rawPath":"/api/notifications","requestContext":{"http":{"method":"POST"}},"body":"e30=","isBase64Encoded":true}`))
	f.Add([]byte(`{"requestContext":{"http":{"method":"GET"}},"rawPath":"/api/installations/x%2f"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := h.Invoke(context.Background(), b)
		if err != nil {
			return
		}
		if r, ok := out.(events.APIGatewayV2HTTPResponse); ok && r.StatusCode >= 500 && r.StatusCode != 502 && r.StatusCode != 503 && r.StatusCode != 504 {
			t.Fatalf("status %d for %q", r.StatusCode, b)
		}
	})
}
