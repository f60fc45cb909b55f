package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/nhpush/nhpush/handler"
	"github.com/nhpush/nhpush/handler/awslambda"
	"github.com/nhpush/nhpush/handler/azfunc"
	"github.com/nhpush/nhpush/nhclient"
	"github.com/nhpush/nhpush/nhclient/nhtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// secureStack builds the handlers from the environment, as the binaries do,
// with every log line going to logs.
func secureStack(t *testing.T, emu *nhtest.Server, logs io.Writer, env map[string]string) (*handler.Service, http.Handler, *awslambda.Handler) {
	t.Helper()
	env["NH_CONNECTION_STRING"], env["NH_HUB_NAME"] = emu.ConnectionString, emu.Hub
	cfg, err := handler.ConfigFromEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	logger := cfg.NewLogger(logs)
	client, err := cfg.NewClient(context.Background(), logger, &nhclient.ClientOptions{HTTPClient: emu.Client()})
	require.NoError(t, err)
	svc := handler.NewService(client, logger)
	return svc, azfunc.NewHandler(svc, logger), awslambda.NewHandler(svc, logger, 2)
}

// TestNoSecretInAnyLog drives successes, bad input and every kind of NH
// failure through every front-end at every log level, with and without
// NH_DEBUG, and checks that no line holds the key or a signature.
func TestNoSecretInAnyLog(t *testing.T) {
	for _, level := range []string{"debug", "info", "warn", "error"} {
		for _, debug := range []string{"0", "1"} {
			t.Run(level+"/NH_DEBUG="+debug, func(t *testing.T) {
				emu := nhtest.NewServer()
				defer emu.Close()
				var logs bytes.Buffer
				_, az, lambda := secureStack(t, emu, &logs, map[string]string{"LOG_LEVEL": level, "NH_DEBUG": debug, "NH_MAX_RETRIES": "1"})
				api := httptest.NewServer(az)
				defer api.Close()
				send := `{"platform":"apple","payload":{"aps":{"alert":"x"}},"tags":["a"]}`
				for _, f := range []*nhtest.Fault{nil, {Status: 401}, {Status: 400}, {Status: 503, Count: 4}, {Drop: true, Count: 4}, {Status: 429, RetryAfter: "300"}} {
					if f != nil {
						emu.InjectFault(*f)
					}
					http.Post(api.URL+"/api/notifications", "application/json", strings.NewReader(send))
					inv, _ := json.Marshal(map[string]any{"Data": map[string]string{"message": send}, "Metadata": map[string]any{}})
					http.Post(api.URL+"/notifications-queue", "application/json", bytes.NewReader(inv))
					lambda.HandleSQS(context.Background(), events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m", Body: send}}})
					emu.ClearFaults()
				}
				http.Post(api.URL+"/api/notifications", "application/json", strings.NewReader(`{"platform":"apple","payload":{},"headers":{"Authorization":"SharedAccessSignature sr=x&sig=LEAK&se=1&skn=k"}}`))
				out := logs.String()
				if level == "debug" && debug == "1" {
					require.Contains(t, out, "nhclient: request", "the dump is on")
				}
				key := emu.ConnectionString[strings.Index(emu.ConnectionString, "SharedAccessKey=")+len("SharedAccessKey="):]
				assert.NotContains(t, out, key)
				assert.NotContains(t, out, "SharedAccessKey=")
				for _, line := range strings.Split(out, "\n") {
					if i := strings.Index(line, "sig="); i >= 0 && !strings.HasPrefix(line[i:], "sig=REDACTED") {
						t.Errorf("a signature in a log line: %s", line)
					}
				}
				assert.NotContains(t, out, "LEAK")
			})
		}
	}
}

func TestHeaderInjectionRefused(t *testing.T) {
	emu := nhtest.NewServer()
	defer emu.Close()
	_, az, _ := secureStack(t, emu, io.Discard, map[string]string{})
	api := httptest.NewServer(az)
	defer api.Close()
	for _, body := range []string{
		`{"platform":"apple","payload":{},"headers":{"apns-topic":"a\r\nX-Evil: 1"}}`,
		`{"platform":"apple","payload":{},"headers":{"apns-topic":"a\nb"}}`,
		`{"platform":"apple","payload":{},"headers":{"apns-topic":"a\rb"}}`,
		`{"platform":"apple","payload":{},"headers":{"apns-topic":"a\u0000b"}}`,
		`{"platform":"apple","payload":{},"headers":{"apns topic":"x"}}`,
		`{"platform":"apple","payload":{},"headers":{"X-Evil\r\n":"x"}}`,
		`{"platform":"apple","payload":{},"deviceHandle":"a\r\nX-Evil: 1"}`,
		`{"platform":"apple","payload":{},"deviceHandles":["ok","a\nb"]}`,
	} {
		resp, err := http.Post(api.URL+"/api/notifications", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 400, resp.StatusCode, body)
	}
	req, _ := http.NewRequest("PUT", api.URL+"/api/installations/i1", strings.NewReader(
		`{"platform":"apns","pushChannel":"t","templates":{"t":{"body":"{}","headers":{"apns-topic":"a\r\nb"}}}}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 400, resp.StatusCode, "template headers too")
	assert.Empty(t, emu.Notifications())
	assert.Empty(t, emu.Installations(emu.Hub))
}

func TestBodyCaps(t *testing.T) {
	emu := nhtest.NewServer()
	defer emu.Close()
	_, az, lambda := secureStack(t, emu, io.Discard, map[string]string{})
	api := httptest.NewServer(az)
	defer api.Close()
	big := `{"platform":"template","payload":{"a":"` + strings.Repeat("x", 65*1024) + `"}}`
	resp, err := http.Post(api.URL+"/api/notifications", "application/json", strings.NewReader(big))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 413, resp.StatusCode, "HTTP body over 64 KB")

	inv, _ := json.Marshal(map[string]any{"Data": map[string]string{"message": strings.Repeat("x", 600<<10)}})
	resp, err = http.Post(api.URL+"/notifications-queue", "application/json", bytes.NewReader(inv))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 400, resp.StatusCode, "an invocation over 512 KB is refused (and the host retries, then poisons)")

	inv, _ = json.Marshal(map[string]any{"Data": map[string]string{"message": big}})
	resp, err = http.Post(api.URL+"/notifications-queue", "application/json", bytes.NewReader(inv))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.Contains(t, string(b), `"code":"body_too_large"`, "a queue message over 64 KB is dead-lettered")

	ev := events.APIGatewayV2HTTPRequest{RawPath: "/api/notifications", Body: big, Headers: map[string]string{"content-type": "application/json"}}
	ev.RequestContext.HTTP.Method = "POST"
	r, err := lambda.HandleHTTP(context.Background(), ev)
	require.NoError(t, err)
	assert.Equal(t, 413, r.StatusCode, "Lambda body over 64 KB")
	sqs, _ := lambda.HandleSQS(context.Background(), events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m", Body: big}}})
	assert.Len(t, sqs.BatchItemFailures, 1)
	assert.Empty(t, emu.Notifications())
}

func TestInstallationIDsWithPathsRefused(t *testing.T) {
	emu := nhtest.NewServer()
	defer emu.Close()
	_, az, lambda := secureStack(t, emu, io.Discard, map[string]string{})
	api := httptest.NewServer(az)
	defer api.Close()
	for _, id := range []string{"a%2Fb", "a%5Cb", "..%2F..%2Fmessages", "%2E%2E", "a%3Fb", "a%23b", "a%00b", "a%0D%0Ab", ".."} {
		for _, method := range []string{"PUT", "GET", "PATCH", "DELETE"} {
			req, _ := http.NewRequest(method, api.URL+"/api/installations/"+id, strings.NewReader(`{"platform":"apns","pushChannel":"t"}`))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.True(t, resp.StatusCode >= 400 && resp.StatusCode < 500, "%s %s: %d", method, id, resp.StatusCode)

			ev := events.APIGatewayV2HTTPRequest{RawPath: "/api/installations/" + id, Body: `{"platform":"apns","pushChannel":"t"}`,
				Headers: map[string]string{"content-type": "application/json"}}
			ev.RequestContext.HTTP.Method = method
			r, err := lambda.HandleHTTP(context.Background(), ev)
			require.NoError(t, err)
			assert.True(t, r.StatusCode >= 400 && r.StatusCode < 500, "lambda %s %s: %d", method, id, r.StatusCode)
		}
	}
	assert.Empty(t, emu.Installations(emu.Hub))
}
