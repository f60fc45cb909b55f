package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nhpush/nhpush/internal/proctest"
	"github.com/nhpush/nhpush/nhclient/nhtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests build the real bootstrap (-tags lambda.norpc) and run it under
// the real Lambda Runtime Interface Emulator, against the NH emulator. The
// RIE is installed at its pinned version by `make test` (bin/aws-lambda-rie);
// AWS_LAMBDA_RIE names another. They are never skipped.
type rie struct {
	*proctest.Process
	emu    *nhtest.Server
	invURL string
}

func startRIE(t testing.TB, extraEnv ...string) *rie {
	t.Helper()
	boot := proctest.Build(t, ".", "lambda.norpc")
	emu := nhtest.NewServer()
	t.Cleanup(emu.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, emu.CertificatePEM(), 0o600))
	p, url := proctest.StartRIE(t, append([]string{"NH_CONNECTION_STRING=" + emu.ConnectionString, "NH_HUB_NAME=" + emu.Hub,
		"SSL_CERT_FILE=" + ca, "SQS_CONCURRENCY=4"}, extraEnv...), boot)
	return &rie{Process: p, emu: emu, invURL: url}
}

func (r *rie) invoke(t testing.TB, event any) []byte {
	t.Helper()
	b, err := json.Marshal(event)
	require.NoError(t, err)
	resp, err := http.Post(r.invURL, "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	require.Equal(t, 200, resp.StatusCode, "%s\n%s", out, r.Output)
	return out
}

func httpEvent(method, path, body string) map[string]any {
	return map[string]any{
		"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
		"headers":        map[string]string{"content-type": "application/json"},
		"requestContext": map[string]any{"stage": "$default", "http": map[string]string{"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"}},
		"body":           body, "isBase64Encoded": false,
	}
}

type httpResp struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
}

func TestRIEHTTPSendsAndInstallations(t *testing.T) {
	r := startRIE(t)
	var res httpResp
	require.NoError(t, json.Unmarshal(r.invoke(t, httpEvent("PUT", "/api/installations/rie-1", `{"platform":"apns","pushChannel":"tok","tags":["sports"]}`)), &res))
	assert.Equal(t, 204, res.StatusCode, res.Body)
	require.NoError(t, json.Unmarshal(r.invoke(t, httpEvent("POST", "/api/notifications", `{"platform":"apple","payload":{"aps":{"alert":"hi"}},"tags":["sports"],"test":true}`)), &res))
	assert.Equal(t, 201, res.StatusCode, res.Body)
	assert.Contains(t, res.Body, `"registrationId":"rie-1"`)
	require.NoError(t, json.Unmarshal(r.invoke(t, httpEvent("GET", "/api/installations/rie-1", "")), &res))
	assert.Equal(t, 200, res.StatusCode)
	assert.Contains(t, res.Body, `"pushChannel":"tok"`)
	require.NoError(t, json.Unmarshal(r.invoke(t, httpEvent("POST", "/api/notifications", `{"platform":"apple","payload":{}, "tags":["bad tag"]}`)), &res))
	assert.Equal(t, 400, res.StatusCode)
	assert.Contains(t, res.Body, `"code":"invalid_tag"`)
	assert.Len(t, r.emu.Notifications(), 1)
}

func sqsRecord(id, body string) map[string]any {
	return map[string]any{"messageId": id, "receiptHandle": "rh-" + id, "body": body, "eventSource": "aws:sqs",
		"eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:notifications", "awsRegion": "us-east-1",
		"attributes": map[string]string{"ApproximateReceiveCount": "1", "SentTimestamp": "1733300000000"}}
}

func TestRIESQSBatchReportsExactlyTheFailures(t *testing.T) {
	r := startRIE(t)
	// Valid records carry a unique tag so that each can be found once in
	// the emulator; invalid ones can never succeed; some valid ones hit
	// injected 503s on every try (transient) and must come back.
	r.emu.InjectFault(nhtest.Fault{Fraction: 1, Status: 503, Match: "r03"})
	r.emu.InjectFault(nhtest.Fault{Fraction: 1, Status: 429, RetryAfter: "0", Match: "r11"})
	var records []any
	wantFailed := map[string]bool{}
	valid := map[string]bool{}
	for i := range 20 {
		id := fmt.Sprintf("msg-%02d", i)
		switch {
		case i%5 == 0:
			records = append(records, sqsRecord(id, `{"platform":"apple","payload":"not an object"}`))
			wantFailed[id] = true
		case i%7 == 0:
			records = append(records, sqsRecord(id, `not json`))
			wantFailed[id] = true
		default:
			records = append(records, sqsRecord(id, fmt.Sprintf(`{"platform":"fcmv1","payload":{"data":{"n":"%d"}},"tags":["r%02d"]}`, i, i)))
			valid[id] = true
		}
	}
	var resp struct {
		BatchItemFailures []struct{ ItemIdentifier string } `json:"batchItemFailures"`
	}
	require.NoError(t, json.Unmarshal(r.invoke(t, map[string]any{"Records": records}), &resp))
	failed := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	accepted := map[string]int{}
	for _, n := range r.emu.Notifications() {
		accepted["msg-"+strings.TrimPrefix(n.Tags, "r")]++
	}
	transient := 0
	for id := range valid {
		switch accepted[id] {
		case 1:
			assert.False(t, failed[id], "%s was sent and must not be reported", id)
		case 0:
			assert.True(t, failed[id], "%s was not sent and must come back", id)
			transient++
		default:
			t.Errorf("%s accepted %d times", id, accepted[id])
		}
	}
	for id := range wantFailed {
		assert.True(t, failed[id], "%s can never succeed and must be reported", id)
	}
	assert.Equal(t, 2, transient, "the injected 503 and 429 made exactly two valid records fail")
	assert.True(t, failed["msg-03"] && failed["msg-11"])
	assert.Len(t, failed, len(wantFailed)+transient, "batchItemFailures names exactly the failed records")

	// The transient ones come back on the next delivery and succeed.
	r.emu.ClearFaults()
	var again []any
	for _, rec := range records {
		if id := rec.(map[string]any)["messageId"].(string); valid[id] && accepted[id] == 0 {
			again = append(again, rec)
		}
	}
	require.Len(t, again, 2)
	resp.BatchItemFailures = nil
	require.NoError(t, json.Unmarshal(r.invoke(t, map[string]any{"Records": again}), &resp))
	assert.NotNil(t, resp.BatchItemFailures)
	assert.Empty(t, resp.BatchItemFailures)
	assert.Len(t, r.emu.Notifications(), len(valid), "every valid record accepted exactly once in the end")
}

func TestRIEStartupErrorNamesTheSetting(t *testing.T) {
	// A broken setting: the bootstrap exits at init with one line naming it.
	p, url := proctest.StartRIE(t, []string{"NH_CONNECTION_STRING=Endpoint=sb://x/;SharedAccessKeyName=k;SharedAccessKey=TOPSECRET"},
		proctest.Build(t, ".", "lambda.norpc"))
	resp, err := http.Post(url, "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Contains(t, p.Output.String(), "nhpush: NH_HUB_NAME is not set and NH_CONNECTION_STRING has no EntityPath")
	assert.NotContains(t, p.Output.String(), "TOPSECRET")
}
