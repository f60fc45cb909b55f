package nhclient

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// captured is one request as it reached the test server.
type captured struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   string
}

// wireServer records every request and answers with the next scripted
// answer (or 201 with a Location).
type wireServer struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []captured
	answers []func(w http.ResponseWriter)
}

func newWireServer(t *testing.T) *wireServer {
	ws := &wireServer{}
	ws.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ws.mu.Lock()
		ws.reqs = append(ws.reqs, captured{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), string(b)})
		var answer func(http.ResponseWriter)
		if len(ws.answers) > 0 {
			answer, ws.answers = ws.answers[0], ws.answers[1:]
		}
		ws.mu.Unlock()
		if answer != nil {
			answer(w)
			return
		}
		w.Header().Set("Location", "https://"+r.Host+"/hub/messages/n-1?api-version=2020-06")
		w.Header().Set("TrackingId", "track-1")
		w.Header().Set("x-ms-correlation-request-id", "corr-1")
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(ws.Close)
	return ws
}

func (ws *wireServer) script(a ...func(w http.ResponseWriter)) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.answers = append(ws.answers, a...)
}

func (ws *wireServer) requests() []captured {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return append([]captured(nil), ws.reqs...)
}

func (ws *wireServer) client(t *testing.T, opts *ClientOptions) *Client {
	var o ClientOptions
	if opts != nil {
		o = *opts
	}
	o.HTTPClient = ws.Client()
	c, err := NewClient(ws.URL, "hub", Key{"rule", "secret"}, &o)
	require.NoError(t, err)
	c.sleep = func(context.Context, time.Duration) error { return nil }
	return c
}

func answer(status int, header map[string]string, body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func TestWireSends(t *testing.T) {
	at := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	tests := []struct {
		name      string
		call      func(c *Client) (*SendResult, error)
		path      string
		query     string
		header    map[string]string
		noHeaders []string
		body      string
	}{
		{"apple broadcast", func(c *Client) (*SendResult, error) {
			return c.Send(context.Background(), NewAppleNotification([]byte(`{"aps":{"alert":"hi"}}`), map[string]string{"apns-priority": "5", "apns-push-type": "alert"}), nil)
		}, "/hub/messages/", "api-version=2020-06",
			map[string]string{"Content-Type": "application/json;charset=utf-8", "Servicebusnotification-Format": "apple", "Apns-Priority": "5", "Apns-Push-Type": "alert"},
			[]string{"Servicebusnotification-Tags"}, `{"aps":{"alert":"hi"}}`},
		{"fcmv1 tags", func(c *Client) (*SendResult, error) {
			return c.SendFcmV1Notification(context.Background(), []byte(`{"notification":{"title":"t"}}`), &SendOptions{Tags: []string{"a", "b"}})
		}, "/hub/messages/", "api-version=2020-06",
			map[string]string{"Servicebusnotification-Format": "fcmv1", "Servicebusnotification-Tags": "a || b"}, nil, `{"message":{"notification":{"title":"t"}}}`},
		{"windows expression", func(c *Client) (*SendResult, error) {
			return c.SendWindowsNotification(context.Background(), []byte(`<toast><visual/></toast>`), &SendOptions{TagExpression: "a && !b"})
		}, "/hub/messages/", "api-version=2020-06",
			map[string]string{"Content-Type": "application/xml", "Servicebusnotification-Format": "windows", "X-Wns-Type": "wns/toast", "Servicebusnotification-Tags": "a && !b"}, nil, `<toast><visual/></toast>`},
		{"template", func(c *Client) (*SendResult, error) {
			return c.SendTemplateNotification(context.Background(), map[string]string{"m": "x"}, nil)
		}, "/hub/messages/", "api-version=2020-06", map[string]string{"Servicebusnotification-Format": "template"}, nil, `{"m":"x"}`},
		{"direct", func(c *Client) (*SendResult, error) {
			return c.SendDirectNotification(context.Background(), NewGcmNotification([]byte(`{"data":{}}`), nil), "device-token")
		}, "/hub/messages/", "api-version=2020-06&direct",
			map[string]string{"Servicebusnotification-Format": "gcm", "Servicebusnotification-Devicehandle": "device-token"}, nil, `{"data":{}}`},
		{"scheduled", func(c *Client) (*SendResult, error) {
			return c.ScheduleNotification(context.Background(), NewAdmNotification([]byte(`{"data":{}}`), nil), at, &SendOptions{Tags: []string{"x"}})
		}, "/hub/schedulednotifications/", "api-version=2020-06",
			map[string]string{"Servicebusnotification-Format": "adm", "Servicebusnotification-Scheduletime": at.Format("2006-01-02T15:04:05Z"), "Servicebusnotification-Tags": "x"}, nil, `{"data":{}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := newWireServer(t)
			c := ws.client(t, nil)
			res, err := tt.call(c)
			require.NoError(t, err)
			assert.Equal(t, &SendResult{NotificationID: "n-1", TrackingID: "track-1", CorrelationID: "corr-1"}, res)
			reqs := ws.requests()
			require.Len(t, reqs, 1)
			r := reqs[0]
			assert.Equal(t, http.MethodPost, r.Method)
			assert.Equal(t, tt.path, r.Path)
			assert.Equal(t, tt.query, r.RawQuery)
			assert.Equal(t, tt.body, r.Body)
			for k, v := range tt.header {
				assert.Equal(t, v, r.Header.Get(k), k)
			}
			for _, k := range tt.noHeaders {
				assert.Empty(t, r.Header.Values(k), k)
			}
			assertToken(t, r.Header.Get("Authorization"), ws.URL+"/hub")
		})
	}
}

// assertToken checks a SAS token's shape and that it signs resource.
func assertToken(t *testing.T, tok, resource string) {
	t.Helper()
	require.True(t, strings.HasPrefix(tok, "SharedAccessSignature "), tok)
	q, err := url.ParseQuery(strings.TrimPrefix(tok, "SharedAccessSignature "))
	require.NoError(t, err)
	assert.Equal(t, strings.ToLower(resource), q.Get("sr"))
	assert.Equal(t, "rule", q.Get("skn"))
	assert.NotEmpty(t, q.Get("sig"))
	assert.NotEmpty(t, q.Get("se"))
}

func TestWireTestSendParsesOutcome(t *testing.T) {
	ws := newWireServer(t)
	ws.script(answer(201, map[string]string{"Content-Type": "application/xml"}, `<NotificationOutcome xmlns="http://schemas.microsoft.com/netservices/2010/10/servicebus/connect" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><Success>1</Success><Failure>1</Failure><Results><RegistrationResult><ApplicationPlatform>apple</ApplicationPlatform><PnsHandle>h1</PnsHandle><RegistrationId>r1</RegistrationId><Outcome>The Notification was successfully sent to the Push Notification System</Outcome></RegistrationResult><RegistrationResult><ApplicationPlatform>apple</ApplicationPlatform><PnsHandle>h2</PnsHandle><RegistrationId>r2</RegistrationId><Outcome>InvalidToken</Outcome></RegistrationResult></Results></NotificationOutcome>`))
	c := ws.client(t, nil)
	res, err := c.Send(context.Background(), NewAppleNotification([]byte(`{"aps":{}}`), nil), &SendOptions{Tags: []string{"t"}, Test: true})
	require.NoError(t, err)
	assert.Equal(t, "api-version=2020-06&test", ws.requests()[0].RawQuery)
	assert.Equal(t, &NotificationOutcome{Success: 1, Failure: 1, Results: []RegistrationResult{
		{"apple", "h1", "r1", "The Notification was successfully sent to the Push Notification System"},
		{"apple", "h2", "r2", "InvalidToken"},
	}}, res.Outcome)
}

func TestWireBatchDirect(t *testing.T) {
	ws := newWireServer(t)
	c := ws.client(t, nil)
	handles := make([]string, 2500)
	for i := range handles {
		handles[i] = "h" + strings.Repeat("x", i%3) + string(rune('a'+i%26))
	}
	res, err := c.SendDirectBatchNotification(context.Background(), NewAppleNotification([]byte(`{"aps":{}}`), map[string]string{"apns-priority": "10"}), handles)
	require.NoError(t, err)
	assert.Len(t, res.Results, 3)
	assert.Empty(t, res.Failed)
	reqs := ws.requests()
	require.Len(t, reqs, 3)
	var got []string
	for _, r := range reqs {
		assert.Equal(t, "/hub/messages/$batch", r.Path)
		assert.Equal(t, "direct&api-version=2020-06", r.RawQuery)
		assert.Equal(t, "apple", r.Header.Get("ServiceBusNotification-Format"))
		assert.Equal(t, "10", r.Header.Get("apns-priority"))
		mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		require.NoError(t, err)
		assert.Equal(t, "multipart/mixed", mt)
		mr := multipart.NewReader(strings.NewReader(r.Body), params["boundary"])
		p, err := mr.NextPart()
		require.NoError(t, err)
		assert.Equal(t, "inline; name=notification", p.Header.Get("Content-Disposition"))
		assert.Equal(t, "application/json;charset=utf-8", p.Header.Get("Content-Type"))
		b, _ := io.ReadAll(p)
		assert.Equal(t, `{"aps":{}}`, string(b))
		p, err = mr.NextPart()
		require.NoError(t, err)
		assert.Equal(t, "inline; name=devices", p.Header.Get("Content-Disposition"))
		var devs []string
		b, _ = io.ReadAll(p)
		require.NoError(t, json.Unmarshal(b, &devs))
		assert.LessOrEqual(t, len(devs), MaxBatchDevices)
		got = append(got, devs...)
		_, err = mr.NextPart()
		assert.Equal(t, io.EOF, err)
	}
	assert.Equal(t, handles, got, "every handle sent once, in order")
}

func TestWireBatchGathersFailures(t *testing.T) {
	ws := newWireServer(t)
	ws.script(nil, answer(400, nil, `<Error><Code>400</Code><Detail>bad</Detail></Error>`))
	c := ws.client(t, nil)
	handles := make([]string, 2001)
	for i := range handles {
		handles[i] = "h"
	}
	res, err := c.SendDirectBatchNotification(context.Background(), NewAppleNotification([]byte(`{}`), nil), handles)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "devices 1000 to 1999")
	assert.Len(t, res.Results, 2)
	require.Len(t, res.Failed, 1)
	assert.Len(t, res.Failed[0].DeviceHandles, 1000)
}

func TestWireInstallations(t *testing.T) {
	ws := newWireServer(t)
	inst := &Installation{InstallationID: "dev-1", Platform: "apns", PushChannel: "tok", Tags: []string{"a"},
		Templates: map[string]InstallationTemplate{"t": {Body: `{"aps":{"alert":"$(m)"}}`}}}
	ws.script(
		answer(200, nil, ""),
		answer(200, nil, ""),
		answer(200, map[string]string{"Content-Type": "application/json"}, `{"installationId":"dev-1","platform":"apns","pushChannel":"tok","tags":["a","b"],"pushChannelExpired":false}`),
		answer(204, nil, ""),
		answer(200, map[string]string{"Content-Type": "application/json"}, `{"installationId":"web","platform":"browser","pushChannel":{"endpoint":"https://e","p256dh":"p","auth":"a"}}`),
	)
	c := ws.client(t, nil)
	ctx := context.Background()
	require.NoError(t, c.CreateOrUpdateInstallation(ctx, inst))
	require.NoError(t, c.PatchInstallation(ctx, "dev-1", []InstallationPatch{{Op: "add", Path: "/tags", Value: "b"}}))
	got, err := c.GetInstallation(ctx, "dev-1")
	require.NoError(t, err)
	assert.Equal(t, &Installation{InstallationID: "dev-1", Platform: "apns", PushChannel: "tok", Tags: []string{"a", "b"}}, got)
	require.NoError(t, c.DeleteInstallation(ctx, "dev-1"))
	web, err := c.GetInstallation(ctx, "web")
	require.NoError(t, err)
	assert.Equal(t, &BrowserPushChannel{Endpoint: "https://e", P256DH: "p", Auth: "a"}, web.BrowserPushChannel)

	reqs := ws.requests()
	require.Len(t, reqs, 5)
	assert.Equal(t, []string{"PUT", "PATCH", "GET", "DELETE", "GET"}, []string{reqs[0].Method, reqs[1].Method, reqs[2].Method, reqs[3].Method, reqs[4].Method})
	for _, r := range reqs[:4] {
		assert.Equal(t, "/hub/installations/dev-1", r.Path)
		assert.Equal(t, "api-version=2020-06", r.RawQuery)
	}
	assert.Equal(t, "application/json", reqs[0].Header.Get("Content-Type"))
	assert.JSONEq(t, `{"installationId":"dev-1","platform":"apns","pushChannel":"tok","tags":["a"],"templates":{"t":{"body":"{\"aps\":{\"alert\":\"$(m)\"}}"}}}`, reqs[0].Body)
	assert.Equal(t, "application/json-patch+json", reqs[1].Header.Get("Content-Type"))
	assert.JSONEq(t, `[{"op":"add","path":"/tags","value":"b"}]`, reqs[1].Body)
	assert.Empty(t, reqs[2].Body)
}

func TestWireBrowserInstallationJSON(t *testing.T) {
	b, err := json.Marshal(&Installation{InstallationID: "w", Platform: "browser", BrowserPushChannel: &BrowserPushChannel{"https://e", "p", "a"}})
	require.NoError(t, err)
	assert.JSONEq(t, `{"installationId":"w","platform":"browser","pushChannel":{"endpoint":"https://e","p256dh":"p","auth":"a"}}`, string(b))
}

func TestWireCancelAndDetails(t *testing.T) {
	ws := newWireServer(t)
	ws.script(answer(200, nil, ""), answer(200, map[string]string{"Content-Type": "application/xml"},
		`<NotificationDetails xmlns="http://schemas.microsoft.com/netservices/2010/10/servicebus/connect"><NotificationId>n-1</NotificationId><Location>sb://x</Location><State>Completed</State><EnqueueTime>2026-12-04T10:00:00Z</EnqueueTime><TargetPlatforms>apple</TargetPlatforms><ApnsOutcomeCounts><Outcome><Name>Success</Name><Count>3</Count></Outcome><Outcome><Name>InvalidToken</Name><Count>1</Count></Outcome></ApnsOutcomeCounts></NotificationDetails>`))
	c := ws.client(t, nil)
	require.NoError(t, c.CancelNotification(context.Background(), "n-1"))
	d, err := c.GetNotificationOutcomeDetails(context.Background(), "n-1")
	require.NoError(t, err)
	assert.Equal(t, "Completed", d.State)
	assert.Equal(t, []OutcomeCount{{"Success", 3}, {"InvalidToken", 1}}, d.ApnsOutcomeCounts)
	reqs := ws.requests()
	assert.Equal(t, "DELETE", reqs[0].Method)
	assert.Equal(t, "/hub/schedulednotifications/n-1", reqs[0].Path)
	assert.Equal(t, "GET", reqs[1].Method)
	assert.Equal(t, "/hub/messages/n-1", reqs[1].Path)
	assert.Equal(t, "api-version=2020-06", reqs[1].RawQuery)
}

func TestNothingSentForBadInput(t *testing.T) {
	ws := newWireServer(t)
	c := ws.client(t, nil)
	ctx := context.Background()
	ok := NewAppleNotification([]byte(`{}`), nil)
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"tags and expression", func() error { _, e := c.Send(ctx, ok, &SendOptions{Tags: []string{"a"}, TagExpression: "b"}); return e }(), ErrInvalidAudience},
		{"bad tag", func() error { _, e := c.Send(ctx, ok, &SendOptions{Tags: []string{"a b"}}); return e }(), ErrInvalidTag},
		{"21 tags", func() error { _, e := c.Send(ctx, ok, &SendOptions{Tags: make([]string, 21)}); return e }(), ErrInvalidAudience},
		{"bad expression", func() error { _, e := c.Send(ctx, ok, &SendOptions{TagExpression: "a &&"}); return e }(), ErrInvalidTagExpression},
		{"bad payload", func() error { _, e := c.Send(ctx, NewAppleNotification([]byte("x"), nil), nil); return e }(), ErrInvalidPayload},
		{"empty handle", func() error { _, e := c.SendDirectNotification(ctx, ok, " "); return e }(), ErrInvalidDeviceHandle},
		{"CRLF handle", func() error { _, e := c.SendDirectNotification(ctx, ok, "a\r\nb"); return e }(), ErrInvalidDeviceHandle},
		{"no handles", func() error { _, e := c.SendDirectBatchNotification(ctx, ok, nil); return e }(), ErrInvalidDeviceHandle},
		{"bad handle in batch", func() error { _, e := c.SendDirectBatchNotification(ctx, ok, []string{"a", ""}); return e }(), ErrInvalidDeviceHandle},
		{"past schedule", func() error { _, e := c.ScheduleNotification(ctx, ok, time.Now().Add(-time.Minute), nil); return e }(), ErrInvalidScheduleTime},
		{"8 days ahead", func() error { _, e := c.ScheduleNotification(ctx, ok, time.Now().Add(8*24*time.Hour), nil); return e }(), ErrInvalidScheduleTime},
		{"scheduled test", func() error {
			_, e := c.ScheduleNotification(ctx, ok, time.Now().Add(time.Hour), &SendOptions{Test: true})
			return e
		}(), ErrInvalidAudience},
		{"id with slash", c.DeleteInstallation(ctx, "a/b"), ErrInvalidID},
		{"dot segment", func() error { _, e := c.GetInstallation(ctx, ".."); return e }(), ErrInvalidID},
		{"empty id", c.CancelNotification(ctx, ""), ErrInvalidID},
		{"encoded slash", c.DeleteInstallation(ctx, "a%2fb"), ErrInvalidID},
		{"backslash", c.DeleteInstallation(ctx, `a\b`), ErrInvalidID},
		{"nil installation", c.CreateOrUpdateInstallation(ctx, nil), ErrInvalidInstallation},
		{"bad platform", c.CreateOrUpdateInstallation(ctx, &Installation{InstallationID: "i", Platform: "ios", PushChannel: "x"}), ErrInvalidInstallation},
		{"no channel", c.CreateOrUpdateInstallation(ctx, &Installation{InstallationID: "i", Platform: "apns"}), ErrInvalidInstallation},
		{"browser no keys", c.CreateOrUpdateInstallation(ctx, &Installation{InstallationID: "i", Platform: "browser", BrowserPushChannel: &BrowserPushChannel{Endpoint: "e"}}), ErrInvalidInstallation},
		{"61 tags", c.CreateOrUpdateInstallation(ctx, &Installation{InstallationID: "i", Platform: "apns", PushChannel: "x", Tags: manyTags(61)}), ErrInvalidInstallation},
		{"template no body", c.CreateOrUpdateInstallation(ctx, &Installation{InstallationID: "i", Platform: "apns", PushChannel: "x", Templates: map[string]InstallationTemplate{"t": {}}}), ErrInvalidInstallation},
		{"bad patch op", c.PatchInstallation(ctx, "i", []InstallationPatch{{Op: "move", Path: "/tags"}}), ErrInvalidInstallation},
		{"patch path", c.PatchInstallation(ctx, "i", []InstallationPatch{{Op: "add", Path: "tags"}}), ErrInvalidInstallation},
		{"no patches", c.PatchInstallation(ctx, "i", nil), ErrInvalidInstallation},
	}
	for _, tc := range cases {
		assert.ErrorIs(t, tc.err, tc.want, tc.name)
		assert.False(t, IsRetryable(tc.err), tc.name)
	}
	assert.Empty(t, ws.requests(), "bad input must never reach the wire")
}

func manyTags(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "t" + strings.Repeat("x", i)
	}
	return out
}

func TestNewClientErrors(t *testing.T) {
	_, err := NewClientFromConnectionString("Endpoint=sb://ns/;SharedAccessKeyName=k;SharedAccessKey=s", "", nil)
	assert.ErrorIs(t, err, ErrInvalidHub)
	_, err = NewClient("https://ns", "a/b", Key{"k", "s"}, nil)
	assert.ErrorIs(t, err, ErrInvalidHub)
	_, err = NewClient("https://ns", "h", Key{"k", ""}, nil)
	assert.ErrorIs(t, err, ErrInvalidConnectionString)
	_, err = NewClientFromConnectionString("nope", "h", nil)
	assert.ErrorIs(t, err, ErrInvalidConnectionString)
	c, err := NewClientFromConnectionString("Endpoint=sb://NS.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=s;EntityPath=myhub", "", nil)
	require.NoError(t, err)
	assert.Equal(t, "myhub", c.Hub())
	assert.Equal(t, "https://ns.servicebus.windows.net/myhub", c.HubURL())
	assert.NotSame(t, http.DefaultTransport, c.httpClient.Transport, "DefaultTransport is never used or modified")
}

func TestNotificationIDFromLocation(t *testing.T) {
	for loc, want := range map[string]string{
		"https://ns.servicebus.windows.net/hub/messages/6241581312?api-version=2020-06": "6241581312",
		"https://ns.servicebus.windows.net/hub/messages/abc/":                           "abc",
		"/hub/messages/a%20b":               "a b",
		"https://ns.servicebus.windows.net": "",
		"":                                  "",
	} {
		assert.Equal(t, want, notificationID(loc), loc)
	}
	ws := newWireServer(t)
	ws.script(answer(201, map[string]string{"TrackingId": "t"}, ""))
	res, err := ws.client(t, nil).Send(context.Background(), NewAppleNotification([]byte(`{}`), nil), nil)
	require.NoError(t, err)
	assert.Equal(t, &SendResult{TrackingID: "t"}, res, "no Location (some tiers): no id, and no error")
}
