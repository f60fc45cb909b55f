package handler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nhpush/nhpush/handler"
	"github.com/nhpush/nhpush/nhclient"
	"github.com/nhpush/nhpush/nhclient/nhtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type env struct {
	emu *nhtest.Server
	svc *handler.Service
	api *httptest.Server
	log *bytes.Buffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	emu := nhtest.NewServer()
	t.Cleanup(emu.Close)
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	client, err := nhclient.NewClientFromConnectionString(emu.ConnectionString, emu.Hub,
		&nhclient.ClientOptions{HTTPClient: emu.Client(), Retry: nhclient.RetryOptions{BaseDelay: time.Millisecond, MaxDelay: 50 * time.Millisecond}, Logger: logger, Debug: true})
	require.NoError(t, err)
	svc := handler.NewService(client, logger)
	api := httptest.NewServer(svc.Handler())
	t.Cleanup(api.Close)
	e := &env{emu: emu, svc: svc, api: api, log: &buf}
	for _, inst := range []nhtest.Installation{
		{InstallationID: "ios-1", Platform: "apns", PushChannel: json.RawMessage(`"apns-1"`), Tags: []string{"sports", "en"}},
		{InstallationID: "ios-2", Platform: "apns", PushChannel: json.RawMessage(`"apns-2"`), Tags: []string{"politics"}},
		{InstallationID: "and-1", Platform: "fcmv1", PushChannel: json.RawMessage(`"fcm-1"`), Tags: []string{"sports"},
			Templates: map[string]nhtest.Template{"t": {Body: `{"message":{"notification":{"title":"$(title)"}}}`}}},
		{InstallationID: "gcm-1", Platform: "gcm", PushChannel: json.RawMessage(`"gcm-1"`), Tags: []string{"sports"}},
		{InstallationID: "win-1", Platform: "wns", PushChannel: json.RawMessage(`"https://wns/1"`), Tags: []string{"sports"}},
		{InstallationID: "wp-1", Platform: "mpns", PushChannel: json.RawMessage(`"https://mpns/1"`), Tags: []string{"sports"}},
		{InstallationID: "kin-1", Platform: "adm", PushChannel: json.RawMessage(`"adm-1"`), Tags: []string{"sports"}},
		{InstallationID: "bai-1", Platform: "baidu", PushChannel: json.RawMessage(`"baidu-1"`), Tags: []string{"sports"}},
		{InstallationID: "xia-1", Platform: "xiaomi", PushChannel: json.RawMessage(`"xiaomi-1"`), Tags: []string{"sports"}},
		{InstallationID: "web-1", Platform: "browser", PushChannel: json.RawMessage(`{"endpoint":"https://push/1","p256dh":"p","auth":"a"}`), Tags: []string{"sports"}},
	} {
		emu.PutInstallation(emu.Hub, inst)
	}
	return e
}

func (e *env) call(t *testing.T, method, path, contentType, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, e.api.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(b) > 0 {
		require.NoError(t, json.Unmarshal(b, &out), string(b))
	}
	return resp.StatusCode, resp.Header, out
}

func (e *env) post(t *testing.T, body string) (int, map[string]any) {
	t.Helper()
	st, _, out := e.call(t, "POST", "/api/notifications", "application/json", body)
	return st, out
}

func outcomeIDs(out map[string]any) []string {
	var ids []string
	o, _ := out["outcome"].(map[string]any)
	rs, _ := o["results"].([]any)
	for _, r := range rs {
		ids = append(ids, r.(map[string]any)["registrationId"].(string))
	}
	return ids
}

func TestEveryPlatformTestSend(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, body string
		want       []string
	}{
		{"apple", `{"platform":"apple","payload":{"aps":{"alert":"hi"}},"tags":["sports"],"test":true}`, []string{"ios-1"}},
		{"apns alias", `{"platform":"APNS","payload":{"aps":{}},"test":true}`, []string{"ios-1", "ios-2"}},
		{"fcmv1", `{"platform":"fcmv1","payload":{"notification":{"title":"x"}},"tags":["sports"],"test":true}`, []string{"and-1"}},
		{"gcm", `{"platform":"gcm","payload":{"data":{"m":"x"}},"tagExpression":"sports","test":true}`, []string{"gcm-1"}},
		{"windows", `{"platform":"windows","payload":"<toast><visual><binding template=\"ToastGeneric\"><text>x</text></binding></visual></toast>","test":true}`, []string{"win-1"}},
		{"windows raw", `{"platform":"wns","payload":"raw data","headers":{"X-WNS-Type":"wns/raw"},"test":true}`, []string{"win-1"}},
		{"windowsphone", `{"platform":"windowsphone","payload":"<wp:Notification xmlns:wp=\"WPNotification\"><wp:Toast><wp:Text1>x</wp:Text1></wp:Toast></wp:Notification>","test":true}`, []string{"wp-1"}},
		{"adm", `{"platform":"adm","payload":{"data":{"m":"x"}},"test":true}`, []string{"kin-1"}},
		{"baidu", `{"platform":"baidu","payload":{"title":"x","description":"y"},"test":true}`, []string{"bai-1"}},
		{"xiaomi", `{"platform":"xiaomi","payload":{"title":"x"},"test":true}`, []string{"xia-1"}},
		{"browser", `{"platform":"browser","payload":{"title":"x"},"tagExpression":"sports && !politics","test":true}`, []string{"web-1"}},
		{"template", `{"platform":"template","payload":{"title":"Goal"},"tags":["sports"],"test":true}`, []string{"and-1"}},
		{"expression none", `{"platform":"apple","payload":{"aps":{}},"tagExpression":"sports && politics","test":true}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, out := e.post(t, tt.body)
			require.Equal(t, 201, st, "%v", out)
			assert.NotEmpty(t, out["notificationId"])
			assert.NotEmpty(t, out["trackingId"])
			assert.ElementsMatch(t, tt.want, outcomeIDs(out))
		})
	}
}

func TestAudiences(t *testing.T) {
	e := newEnv(t)
	st, out := e.post(t, `{"platform":"apple","payload":{"aps":{"alert":"b"}}}`)
	require.Equal(t, 201, st, "%v", out)
	assert.Equal(t, "send", out["kind"])

	st, out = e.post(t, `{"platform":"apple","payload":{"aps":{}},"deviceHandle":"direct-token","headers":{"apns-priority":"5"}}`)
	require.Equal(t, 201, st, "%v", out)
	assert.Equal(t, "direct", out["kind"])

	handles := make([]string, 2100)
	for i := range handles {
		handles[i] = "h-" + strings.Repeat("x", i%7)
	}
	hb, _ := json.Marshal(handles)
	st, out = e.post(t, `{"platform":"fcmv1","payload":{"data":{}},"deviceHandles":`+string(hb)+`}`)
	require.Equal(t, 201, st, "%v", out)
	assert.Equal(t, "batch", out["kind"])
	assert.EqualValues(t, 3, out["requests"])
	assert.EqualValues(t, 2100, out["devices"])

	at := time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
	st, out = e.post(t, `{"platform":"apple","payload":{"aps":{}},"tags":["sports"],"scheduleTime":"`+at+`"}`)
	require.Equal(t, 202, st, "%v", out)
	assert.Equal(t, "scheduled", out["kind"])
	assert.Equal(t, at, out["scheduledFor"])

	ns := e.emu.Notifications()
	require.Len(t, ns, 6)
	assert.Equal(t, []string{"send", "direct", "batch", "batch", "batch", "scheduled"}, []string{ns[0].Kind, ns[1].Kind, ns[2].Kind, ns[3].Kind, ns[4].Kind, ns[5].Kind})
	assert.Len(t, ns[0].Deliveries, 2, "broadcast reaches both apple installations")
	assert.Equal(t, "direct-token", ns[1].DeviceHandles[0])
	assert.Equal(t, "5", ns[1].Headers["Apns-Priority"])
	assert.Equal(t, `{"message":{"data":{}}}`, ns[2].Body, "fcmv1 payloads are wrapped")
	assert.Equal(t, "sports", ns[5].Tags)
}

func TestInstallationsAPI(t *testing.T) {
	e := newEnv(t)
	st, _, _ := e.call(t, "PUT", "/api/installations/new-1", "application/json", `{"platform":"fcmv1","pushChannel":"tok","tags":["a"]}`)
	require.Equal(t, 204, st)
	st, _, out := e.call(t, "GET", "/api/installations/new-1", "", "")
	require.Equal(t, 200, st)
	assert.Equal(t, "new-1", out["installationId"])
	assert.Equal(t, "tok", out["pushChannel"])
	st, _, _ = e.call(t, "PATCH", "/api/installations/new-1", "application/json-patch+json", `[{"op":"add","path":"/tags","value":"b"}]`)
	require.Equal(t, 204, st)
	_, _, out = e.call(t, "GET", "/api/installations/new-1", "", "")
	assert.Equal(t, []any{"a", "b"}, out["tags"])
	st, _, _ = e.call(t, "DELETE", "/api/installations/new-1", "", "")
	require.Equal(t, 204, st)
	st, _, out = e.call(t, "GET", "/api/installations/new-1", "", "")
	require.Equal(t, 404, st)
	errObj := out["error"].(map[string]any)
	assert.Equal(t, "nh_not_found", errObj["code"])
	assert.NotEmpty(t, errObj["trackingId"])

	st, _, out = e.call(t, "PUT", "/api/installations/x", "application/json", `{"installationId":"y","platform":"apns","pushChannel":"t"}`)
	assert.Equal(t, 400, st)
	assert.Equal(t, "installationId", out["error"].(map[string]any)["field"])
	st, _, out = e.call(t, "PUT", "/api/installations/..", "application/json", `{"platform":"apns","pushChannel":"t"}`)
	assert.Equal(t, 400, st, "dot segments are refused and never reach NH")
	assert.Equal(t, "invalid_path", out["error"].(map[string]any)["code"])
	st, _, out = e.call(t, "PUT", "/api/installations/a%2Fb", "application/json", `{"platform":"apns","pushChannel":"t"}`)
	assert.Equal(t, 400, st, "%v", out)
	st, _, _ = e.call(t, "PATCH", "/api/installations/ios-1", "application/json", `{"op":"add"}`)
	assert.Equal(t, 400, st)
	st, _, _ = e.call(t, "POST", "/api/installations/ios-1", "application/json", `{}`)
	assert.Equal(t, 405, st)
}

func TestNHFailuresKeepStatusTrackingAndRetryAfter(t *testing.T) {
	e := newEnv(t)
	e.emu.InjectFault(nhtest.Fault{Count: 4, Status: 429, RetryAfter: "120"})
	st, hdr, out := e.call(t, "POST", "/api/notifications", "application/json", `{"platform":"apple","payload":{"aps":{}}}`)
	require.Equal(t, 429, st)
	assert.Equal(t, "120", hdr.Get("Retry-After"))
	errObj := out["error"].(map[string]any)
	assert.Equal(t, "nh_throttled", errObj["code"])
	assert.NotEmpty(t, errObj["trackingId"])
	e.emu.ClearFaults()

	e.emu.InjectFault(nhtest.Fault{Count: 10, Status: 503})
	st, _, out = e.call(t, "POST", "/api/notifications", "application/json", `{"platform":"apple","payload":{"aps":{}}}`)
	assert.Equal(t, 503, st, "NH's 5xx stays a 5xx: it is not the caller's input")
	assert.Equal(t, "nh_unavailable", out["error"].(map[string]any)["code"])
}

func TestNoSecretInLogs(t *testing.T) {
	e := newEnv(t)
	e.post(t, `{"platform":"apple","payload":{"aps":{}},"tags":["sports"]}`)
	e.emu.InjectFault(nhtest.Fault{Count: 1, Status: 401})
	e.post(t, `{"platform":"apple","payload":{"aps":{}}}`)
	logs := e.log.String()
	assert.Contains(t, logs, "nhclient: request", "debug dumps are on")
	key := e.emu.ConnectionString[strings.Index(e.emu.ConnectionString, "SharedAccessKey=")+len("SharedAccessKey="):]
	assert.NotContains(t, logs, key)
	assert.NotContains(t, logs, strings.TrimRight(key, "="))
	for _, line := range strings.Split(logs, "\n") {
		if i := strings.Index(line, "sig="); i >= 0 {
			assert.True(t, strings.HasPrefix(line[i:], "sig=REDACTED"), line)
		}
	}
}

func TestProcessMessageDispositions(t *testing.T) {
	ctx := context.Background()
	valid := []byte(`{"platform":"apple","payload":{"aps":{}},"tags":["sports"]}`)
	tests := []struct {
		name  string
		fault *nhtest.Fault
		body  []byte
		want  handler.Disposition
		code  string
	}{
		{"sent", nil, valid, handler.Done, ""},
		{"invalid JSON", nil, []byte(`{`), handler.DeadLetter, "invalid_json"},
		{"invalid request", nil, []byte(`{"platform":"ios","payload":{}}`), handler.DeadLetter, "invalid_platform"},
		{"NH 400", &nhtest.Fault{Count: 1, Status: 400}, valid, handler.DeadLetter, "nh_bad_request"},
		{"NH 404", &nhtest.Fault{Count: 1, Status: 404}, valid, handler.DeadLetter, "nh_not_found"},
		{"NH 413", &nhtest.Fault{Count: 1, Status: 413}, valid, handler.DeadLetter, "nh_too_large"},
		{"NH 429 past MaxDelay", &nhtest.Fault{Count: 1, Status: 429, RetryAfter: "60"}, valid, handler.Retry, "nh_throttled"},
		{"NH 503 every try", &nhtest.Fault{Count: 4, Status: 503}, valid, handler.Retry, "nh_unavailable"},
		{"NH 401", &nhtest.Fault{Count: 1, Status: 401}, valid, handler.Retry, "nh_unauthorized"},
		{"dropped every try", &nhtest.Fault{Count: 4, Drop: true}, valid, handler.Retry, "nh_unreachable"},
		{"one 503 then sent", &nhtest.Fault{Count: 1, Status: 503}, valid, handler.Done, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.fault != nil {
				e.emu.InjectFault(*tt.fault)
			}
			res := e.svc.ProcessMessage(ctx, tt.body)
			assert.Equal(t, tt.want, res.Disposition, "%v", res.Err)
			if tt.code != "" {
				require.NotNil(t, res.Err)
				assert.Equal(t, tt.code, res.Err.Code)
			}
			if tt.want == handler.Done {
				assert.Len(t, e.emu.Notifications(), 1)
			} else {
				assert.Empty(t, e.emu.Notifications())
			}
		})
	}
}

func TestTimeoutIsRetry(t *testing.T) {
	e := newEnv(t)
	e.emu.InjectFault(nhtest.Fault{Count: 1, Latency: nhtest.Duration(2 * time.Second)})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	res := e.svc.ProcessMessage(ctx, []byte(`{"platform":"apple","payload":{"aps":{}}}`))
	assert.Equal(t, handler.Retry, res.Disposition)
	assert.Equal(t, "nh_timeout", res.Err.Code)
}
