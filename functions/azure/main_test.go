package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nhpush/nhpush/internal/proctest"
	"github.com/nhpush/nhpush/nhclient/nhtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests run the real custom handler binary as the Functions host
// does: as a process with FUNCTIONS_CUSTOMHANDLER_PORT set, trusting the
// emulator through SSL_CERT_FILE, receiving the host's payloads.

type proc struct {
	*proctest.Process
	emu *nhtest.Server
	url string
}

func startHandler(t *testing.T, extraEnv ...string) *proc {
	t.Helper()
	return startHandlerWith(t, func(emu *nhtest.Server) []string {
		return append([]string{"NH_CONNECTION_STRING=" + emu.ConnectionString, "NH_HUB_NAME=" + emu.Hub}, extraEnv...)
	})
}

// startHandlerWith starts the handler with the settings env gives for the
// emulator (besides the port and SSL_CERT_FILE).
func startHandlerWith(t *testing.T, env func(emu *nhtest.Server) []string) *proc {
	t.Helper()
	emu := nhtest.NewServer()
	t.Cleanup(emu.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, emu.CertificatePEM(), 0o600))
	port := fmt.Sprint(proctest.FreePort(t))
	p := proctest.Start(t, append([]string{"HOME=" + t.TempDir(), "FUNCTIONS_CUSTOMHANDLER_PORT=" + port, "SSL_CERT_FILE=" + ca}, env(emu)...),
		proctest.Build(t, "."))
	p.WaitListening(t, "127.0.0.1:"+port)
	return &proc{Process: p, emu: emu, url: "http://127.0.0.1:" + port}
}

func (p *proc) post(t *testing.T, path, contentType, body string) (int, []byte) {
	t.Helper()
	resp, err := http.Post(p.url+path, contentType, strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// queueInvocation is the docs' queue payload with our binding name and
// message, with the metadata quirks of a real host when quirks is set.
func queueInvocation(message string, quirks bool) string {
	msg, _ := json.Marshal(message)
	if quirks {
		return `{"Data":{"message":` + string(msg) + `},"Metadata":{"DequeueCount":"2","ExpirationTime":"2023-10-12T20:13:49.640002Z","Id":"\"4e773554-f6b7-4ea2-b07d-4c5fd5aba741\"","InsertionTime":"2023-10-12T20:13:49.640002Z","NextVisibleTime":"2023-10-12T20:13:49.640002Z","PopReceipt":"\"STRING\"","sys":{"MethodName":"notifications-queue","UtcNow":"2023-10-12T20:13:49.640002Z","RandGuid":"4e773554-f6b7-4ea2-b07d-4c5fd5aba741"}}}`
	}
	return `{"Data":{"message":` + string(msg) + `},"Metadata":{"DequeueCount":1,"ExpirationTime":"2019-10-16T17:58:31+00:00","Id":"800ae4b3-bdd2-4c08-badd-f08e5a34b865","InsertionTime":"2019-10-09T17:58:31+00:00","NextVisibleTime":"2019-10-09T18:08:32+00:00","PopReceipt":"AgAAAAMAAAAAAAAAAgtnj8x+1QE=","sys":{"MethodName":"QueueTrigger","UtcNow":"2019-10-09T17:58:32.2205399Z","RandGuid":"24ad4c06-24ad-4e5b-8294-3da9714877e9"}}}`
}

type invokeResponse struct {
	Outputs     map[string]json.RawMessage
	Logs        []string
	ReturnValue any
}

func TestProxiedHTTP(t *testing.T) {
	p := startHandler(t)
	p.emu.PutInstallation(p.emu.Hub, nhtest.Installation{InstallationID: "i1", Platform: "apns", PushChannel: json.RawMessage(`"t"`), Tags: []string{"sports"}})
	st, body := p.post(t, "/api/notifications", "application/json", `{"platform":"apple","payload":{"aps":{"alert":"hi"}},"tags":["sports"],"test":true}`)
	require.Equal(t, 201, st, string(body))
	assert.Contains(t, string(body), `"registrationId":"i1"`)
	st, body = p.post(t, "/api/notifications", "application/json", `{"platform":"apple"}`)
	assert.Equal(t, 400, st)
	assert.Contains(t, string(body), `"code":"missing_payload"`)

	req, _ := http.NewRequest("PUT", p.url+"/api/installations/web-1", strings.NewReader(`{"platform":"browser","pushChannel":{"endpoint":"https://e","p256dh":"p","auth":"a"},"tags":["x"]}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 204, resp.StatusCode)
	assert.Len(t, p.emu.Installations(p.emu.Hub), 2)
}

func TestHTTPInvocationPayload(t *testing.T) {
	p := startHandler(t)
	b, err := os.ReadFile("../../handler/azfunc/testdata/docs-http-invocation.json")
	require.NoError(t, err)
	// The docs' payload, with our function's URL and body.
	inv := strings.Replace(string(b), "http://localhost:7071/api/order", "http://localhost:7071/api/notifications", 1)
	inv = strings.Replace(inv, `"{\"id\":1005,\"quantity\":2,\"color\":\"black\"}"`, `"{\"platform\":\"fcmv1\",\"payload\":{\"data\":{}},\"deviceHandle\":\"d\"}"`, 1)
	st, body := p.post(t, "/notifications", "application/json", inv)
	require.Equal(t, 200, st, string(body))
	var r invokeResponse
	require.NoError(t, json.Unmarshal(body, &r))
	var res struct {
		StatusCode int
		Body       string
	}
	require.NoError(t, json.Unmarshal(r.Outputs["res"], &res))
	assert.Equal(t, 201, res.StatusCode)
	assert.Contains(t, res.Body, `"kind":"direct"`)
	assert.Len(t, p.emu.Notifications(), 1)
}

func TestQueueDispositions(t *testing.T) {
	valid := `{"platform":"apple","payload":{"aps":{"alert":"q"}},"tags":["sports"]}`
	tests := []struct {
		name       string
		fault      *nhtest.Fault
		message    string
		quirks     bool
		wantStatus int
		deadLetter string // code expected in the deadletter output
		wantSent   int
	}{
		{"sent (docs metadata)", nil, valid, false, 200, "", 1},
		{"sent (host quirks)", nil, valid, true, 200, "", 1},
		{"invalid JSON dead-lettered", nil, `{ message: "Message sent" }`, false, 200, "invalid_json", 0},
		{"invalid request dead-lettered", nil, `{"platform":"apple","payload":{"aps":{}},"tags":["a b"]}`, true, 200, "invalid_tag", 0},
		{"NH 400 dead-lettered", &nhtest.Fault{Count: 1, Status: 400}, valid, false, 200, "nh_bad_request", 0},
		{"NH 404 dead-lettered", &nhtest.Fault{Count: 1, Status: 404}, valid, false, 200, "nh_not_found", 0},
		{"NH 413 dead-lettered", &nhtest.Fault{Count: 1, Status: 413}, valid, false, 200, "nh_too_large", 0},
		{"NH 429 long Retry-After retried by the host", &nhtest.Fault{Count: 1, Status: 429, RetryAfter: "600"}, valid, false, 500, "", 0},
		{"NH 5xx on every try retried by the host", &nhtest.Fault{Count: 4, Status: 503}, valid, true, 500, "", 0},
		{"dropped connections retried by the host", &nhtest.Fault{Count: 4, Drop: true}, valid, false, 500, "", 0},
		{"one 502 absorbed by the client", &nhtest.Fault{Count: 1, Status: 502}, valid, false, 200, "", 1},
	}
	p := startHandler(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.emu.Reset()
			p.emu.ClearFaults()
			if tt.fault != nil {
				p.emu.InjectFault(*tt.fault)
			}
			st, body := p.post(t, "/notifications-queue", "application/json", queueInvocation(tt.message, tt.quirks))
			require.Equal(t, tt.wantStatus, st, string(body))
			var r invokeResponse
			require.NoError(t, json.Unmarshal(body, &r), string(body))
			require.NotEmpty(t, r.Logs)
			if tt.deadLetter != "" {
				var rec struct {
					Reason  struct{ Code, Message string }
					Message string
				}
				require.NoError(t, json.Unmarshal(r.Outputs["deadletter"], &rec), string(body))
				assert.Equal(t, tt.deadLetter, rec.Reason.Code)
				assert.NotEmpty(t, rec.Reason.Message)
				assert.Equal(t, tt.message, rec.Message, "the message is parked as received")
			} else {
				assert.NotContains(t, r.Outputs, "deadletter")
			}
			assert.Len(t, p.emu.Notifications(), tt.wantSent)
		})
	}
	st, _ := p.post(t, "/notifications-queue", "application/json", `{"Data":{"other":"x"}}`)
	assert.Equal(t, 400, st, "an invocation without the message fails so the host retries and finally poisons it")
}

func TestNoSecretInLogsWithDebug(t *testing.T) {
	p := startHandler(t, "NH_DEBUG=1", "LOG_LEVEL=debug")
	p.post(t, "/api/notifications", "application/json", `{"platform":"apple","payload":{"aps":{}}}`)
	p.emu.InjectFault(nhtest.Fault{Count: 1, Status: 401})
	p.post(t, "/notifications-queue", "application/json", queueInvocation(`{"platform":"apple","payload":{"aps":{}}}`, false))
	time.Sleep(50 * time.Millisecond)
	logs := p.Output.String()
	require.Contains(t, logs, "nhclient: request", "the debug dump is on")
	key := p.emu.ConnectionString[strings.Index(p.emu.ConnectionString, "SharedAccessKey=")+len("SharedAccessKey="):]
	assert.NotContains(t, logs, key)
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		line := sc.Text()
		var rec map[string]any
		assert.NoError(t, json.Unmarshal([]byte(line), &rec), "every log line is JSON: %s", line)
		if i := strings.Index(line, "sig="); i >= 0 {
			assert.True(t, strings.HasPrefix(line[i:], "sig=REDACTED"), line)
		}
	}
}

func TestGracefulShutdownOnSIGTERM(t *testing.T) {
	p := startHandler(t)
	p.emu.InjectFault(nhtest.Fault{Count: 1, Latency: nhtest.Duration(300 * time.Millisecond)})
	result := make(chan int, 1)
	go func() {
		st, _ := p.post(t, "/api/notifications", "application/json", `{"platform":"apple","payload":{"aps":{}}}`)
		result <- st
	}()
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 201, <-result, "the request in flight completes")
	exited, err := p.Exited(10 * time.Second)
	require.True(t, exited, "stops on SIGTERM")
	assert.NoError(t, err, "exits 0")
}

func TestStartupErrorsNameTheSetting(t *testing.T) {
	bin := proctest.Build(t, ".")
	tests := []struct {
		env  []string
		want string
	}{
		{nil, "nhpush: NH_CONNECTION_STRING is not set"},
		{[]string{"NH_CONNECTION_STRING=Endpoint=sb://x/;SharedAccessKeyName=k;SharedAccessKey=TOPSECRET", "NH_HUB_NAME=h"}, "nhpush: FUNCTIONS_CUSTOMHANDLER_PORT must be a port number"},
		{[]string{"NH_CONNECTION_STRING=Endpoint=ftp://x/;SharedAccessKeyName=k;SharedAccessKey=TOPSECRET", "NH_HUB_NAME=h"}, "nhpush: NH_CONNECTION_STRING: invalid connection string: Endpoint scheme"},
	}
	for _, tt := range tests {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cmd := exec.CommandContext(ctx, bin)
		cmd.Env = tt.env
		out, err := cmd.CombinedOutput()
		cancel()
		require.Error(t, err)
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		assert.Len(t, lines, 1, "one line: %s", out)
		assert.True(t, strings.HasPrefix(lines[0], tt.want), "%q", lines[0])
		assert.NotContains(t, string(out), "TOPSECRET")
	}
}

// httpClient does not keep connections to processes that come and go.
var httpClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
