package azfunc

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nhpush/nhpush/handler"
	"github.com/nhpush/nhpush/nhclient"
	"github.com/nhpush/nhpush/nhclient/nhtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newServer(t *testing.T) (*httptest.Server, *nhtest.Server) {
	emu := nhtest.NewServer()
	t.Cleanup(emu.Close)
	quiet := slog.New(slog.DiscardHandler)
	client, err := nhclient.NewClientFromConnectionString(emu.ConnectionString, emu.Hub,
		&nhclient.ClientOptions{HTTPClient: emu.Client(), Logger: quiet, Retry: nhclient.RetryOptions{BaseDelay: time.Millisecond}})
	require.NoError(t, err)
	srv := httptest.NewServer(NewHandler(handler.NewService(client, quiet), quiet))
	t.Cleanup(srv.Close)
	return srv, emu
}

func post(t *testing.T, url, body string) (int, InvokeResponse, string) {
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r InvokeResponse
	json.Unmarshal(b, &r)
	return resp.StatusCode, r, string(b)
}

func TestQueueInvocation(t *testing.T) {
	srv, emu := newServer(t)
	inv := func(msg string) string {
		m, _ := json.Marshal(msg)
		return `{"Data":{"message":` + string(m) + `},"Metadata":{"DequeueCount":"3","Id":"\"m-1\""}}`
	}
	st, r, raw := post(t, srv.URL+"/notifications-queue", inv(`{"platform":"gcm","payload":{"data":{}},"tags":["a"]}`))
	require.Equal(t, 200, st, raw)
	assert.Contains(t, r.Logs[0], "sent message m-1 as send notification")
	assert.Empty(t, r.Outputs)
	assert.Len(t, emu.Notifications(), 1)

	st, _, raw = post(t, srv.URL+"/notifications-queue", inv(`{"platform":"gcm"}`))
	require.Equal(t, 200, st)
	var out struct {
		Outputs struct {
			Deadletter handler.DeadLetterRecord `json:"deadletter"`
		}
	}
	require.NoError(t, json.Unmarshal([]byte(raw), &out))
	assert.Equal(t, "missing_payload", out.Outputs.Deadletter.Reason.Code)
	assert.Equal(t, "m-1", out.Outputs.Deadletter.MessageID)
	assert.Equal(t, 3, out.Outputs.Deadletter.Attempts)
	assert.Equal(t, `{"platform":"gcm"}`, out.Outputs.Deadletter.Message)

	emu.InjectFault(nhtest.Fault{Count: 4, Status: 503})
	st, r, _ = post(t, srv.URL+"/notifications-queue", inv(`{"platform":"gcm","payload":{"data":{}}}`))
	assert.Equal(t, 500, st)
	assert.Contains(t, r.Logs[0], "failed on try 3 and will be retried: nh_unavailable")

	for _, bad := range []string{`nope`, `{"Data":{}}`, `{"Metadata":{}}`, strings.Repeat("x", 600<<10)} {
		st, r, _ = post(t, srv.URL+"/notifications-queue", bad)
		assert.Equal(t, 400, st)
		assert.Contains(t, r.Logs[0], "invalid invocation")
	}
}

func TestHTTPRoutes(t *testing.T) {
	srv, emu := newServer(t)
	st, _, raw := post(t, srv.URL+"/api/notifications", `{"platform":"apple","payload":{"aps":{}}}`)
	assert.Equal(t, 201, st, raw)

	b, err := os.ReadFile("testdata/docs-http-invocation.json")
	require.NoError(t, err)
	// The docs' payload with an installation PUT instead of the order.
	inv := strings.Replace(string(b), `"Method": "POST"`, `"Method": "PUT"`, 1)
	inv = strings.Replace(inv, `"Params": {}`, `"Params": {"id": "inv-1"}`, 1)
	inv = strings.Replace(inv, `"{\"id\":1005,\"quantity\":2,\"color\":\"black\"}"`, `"{\"platform\":\"apns\",\"pushChannel\":\"t\"}"`, 1)
	st, r, raw := post(t, srv.URL+"/installations", inv)
	require.Equal(t, 200, st, raw)
	res := r.Outputs["res"].(map[string]any)
	assert.EqualValues(t, 204, res["statusCode"], raw)
	assert.Len(t, emu.Installations(emu.Hub), 1)

	st, _, _ = post(t, srv.URL+"/notifications", `{"Data":{"other":{}}}`)
	assert.Equal(t, 400, st)
	st, _, _ = post(t, srv.URL+"/notifications", `{"Data":{"req":"not an object"}}`)
	assert.Equal(t, 400, st)
	st, _, raw = post(t, srv.URL+"/elsewhere", `{}`)
	assert.Equal(t, 404, st)
	assert.Contains(t, raw, `"code":"not_found"`)
}
