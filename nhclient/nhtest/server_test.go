package nhtest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests speak raw HTTP: they do not lean on nhclient.

// sign makes a SAS token the way the NH REST docs describe it.
func sign(resource, rule, key string, expiry int64) string {
	sr := strings.ToLower(url.QueryEscape(resource))
	mac := hmac.New(sha256.New, []byte(key))
	fmt.Fprintf(mac, "%s\n%d", sr, expiry)
	sig := url.QueryEscape(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return fmt.Sprintf("SharedAccessSignature sr=%s&sig=%s&se=%d&skn=%s", sr, sig, expiry, rule)
}

type fixture struct {
	t    *testing.T
	srv  *Server
	full Rule
}

func newFixture(t *testing.T) *fixture {
	srv := NewServer()
	t.Cleanup(srv.Close)
	return &fixture{t: t, srv: srv, full: srv.ruleNamed(FullRuleName, RightSend)}
}

func (f *fixture) token() string {
	return sign(f.srv.URL+"/"+f.srv.Hub, f.full.Name, f.full.Key, time.Now().Add(time.Hour).Unix())
}

type reply struct {
	status int
	header http.Header
	body   string
}

// do sends a request; path is below the hub unless it starts with "//".
func (f *fixture) do(method, path string, hdr map[string]string, body string) reply {
	f.t.Helper()
	u := f.srv.URL + "/" + f.srv.Hub + path
	if strings.HasPrefix(path, "//") {
		u = f.srv.URL + path[1:]
	}
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	require.NoError(f.t, err)
	req.Header.Set("Authorization", f.token())
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := f.srv.Client().Do(req)
	require.NoError(f.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}
}

func jsonHdr(format string) map[string]string {
	return map[string]string{"Content-Type": "application/json;charset=utf-8", "ServiceBusNotification-Format": format}
}

func merge(a map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func (f *fixture) install(id, platform, channel string, tags ...string) {
	f.t.Helper()
	b, _ := json.Marshal(map[string]any{"installationId": id, "platform": platform, "pushChannel": channel, "tags": tags})
	r := f.do("PUT", "/installations/"+id+"?api-version=2020-06", map[string]string{"Content-Type": "application/json"}, string(b))
	require.Equal(f.t, 200, r.status, r.body)
}

func TestSendAcceptedAndRecorded(t *testing.T) {
	f := newFixture(t)
	f.install("i1", "apns", "tok1", "sports")
	f.install("i2", "apns", "tok2", "news")
	f.install("i3", "fcmv1", "fcm1", "sports")
	r := f.do("POST", "/messages/?api-version=2020-06", merge(jsonHdr("apple"), "ServiceBusNotification-Tags", "sports", "apns-priority", "5", "x-ms-version", "2015-01", "User-Agent", "NHub/2020-06 (api-origin=DotNetSdk)"), `{"aps":{"alert":"hi"}}`)
	require.Equal(t, 201, r.status, r.body)
	loc := r.header.Get("Location")
	assert.True(t, strings.HasPrefix(loc, f.srv.URL+"/nhpush/messages/"), loc)
	assert.NotEmpty(t, r.header.Get("TrackingId"))
	assert.NotEmpty(t, r.header.Get("x-ms-correlation-request-id"))
	ns := f.srv.Notifications()
	require.Len(t, ns, 1)
	n := ns[0]
	assert.Equal(t, "send", n.Kind)
	assert.Equal(t, "apple", n.Format)
	assert.Equal(t, "sports", n.Tags)
	assert.Equal(t, map[string]string{"Apns-Priority": "5"}, n.Headers)
	assert.Equal(t, []Delivery{{InstallationID: "i1", Platform: "apns", PushChannel: "tok1", Payload: `{"aps":{"alert":"hi"}}`}}, n.Deliveries)
	id := loc[strings.LastIndex(loc, "/")+1 : strings.Index(loc, "?")]
	assert.Equal(t, n.ID, id)
}

func TestTestSendOutcome(t *testing.T) {
	f := newFixture(t)
	f.install("i1", "fcmv1", "fcm-1", "a")
	f.install("i2", "fcmv1", "fcm-2", "b")
	r := f.do("POST", "/messages/?api-version=2020-06&test", merge(jsonHdr("fcmv1"), "ServiceBusNotification-Tags", "a || b"), `{"message":{"data":{}}}`)
	require.Equal(t, 201, r.status, r.body)
	var o struct {
		Success, Failure int
		Results          []struct{ ApplicationPlatform, PnsHandle, RegistrationId, Outcome string } `xml:"Results>RegistrationResult"`
	}
	require.NoError(t, xml.Unmarshal([]byte(r.body), &o), r.body)
	assert.Equal(t, 2, o.Success)
	assert.Equal(t, 0, o.Failure)
	assert.Equal(t, "i1", o.Results[0].RegistrationId)
	assert.Equal(t, "fcm-2", o.Results[1].PnsHandle)
	assert.Contains(t, r.body, `xmlns="http://schemas.microsoft.com/netservices/2010/10/servicebus/connect"`)
}

func TestDirectSends(t *testing.T) {
	f := newFixture(t)
	for _, q := range []string{"&direct", "&direct=true"} {
		r := f.do("POST", "/messages/?api-version=2020-06"+q, merge(jsonHdr("gcm"), "ServiceBusNotification-DeviceHandle", "h-1"), `{"data":{}}`)
		require.Equal(t, 201, r.status, r.body)
	}
	ns := f.srv.Notifications()
	require.Len(t, ns, 2)
	assert.Equal(t, []Delivery{{Platform: "gcm", PushChannel: "h-1", Payload: `{"data":{}}`}}, ns[1].Deliveries)
	r := f.do("POST", "/messages/?api-version=2020-06&direct", jsonHdr("gcm"), `{"data":{}}`)
	assert.Equal(t, 400, r.status)
	assert.Contains(t, r.body, "DeviceHandle")
}

func batchBody(payloadType, payload string, devices any) (string, string) {
	var b bytes.Buffer
	b.WriteString("--B\r\nContent-Type: " + payloadType + "\r\nContent-Disposition: inline; name=notification\r\n\r\n" + payload + "\r\n")
	d, _ := json.Marshal(devices)
	b.WriteString("--B\r\nContent-Type: application/json\r\nContent-Disposition: inline; name=devices\r\n\r\n" + string(d) + "\r\n--B--\r\n")
	return b.String(), "multipart/mixed; boundary=B"
}

func TestBatch(t *testing.T) {
	f := newFixture(t)
	body, ct := batchBody("application/json;charset=utf-8", `{"aps":{}}`, []string{"d1", "d2", "d3"})
	r := f.do("POST", "/messages/$batch?direct&api-version=2020-06", map[string]string{"Content-Type": ct, "ServiceBusNotification-Format": "apple"}, body)
	require.Equal(t, 201, r.status, r.body)
	ns := f.srv.Notifications()
	require.Len(t, ns, 1)
	assert.Equal(t, []string{"d1", "d2", "d3"}, ns[0].DeviceHandles)
	assert.Len(t, ns[0].Deliveries, 3)

	many := make([]string, 1001)
	for i := range many {
		many[i] = "d"
	}
	for name, tc := range map[string]struct {
		query, ct, body string
	}{
		"1001 devices":   {"?direct&api-version=2020-06", ct, func() string { b, _ := batchBody("application/json", `{}`, many); return b }()},
		"no devices":     {"?direct&api-version=2020-06", ct, func() string { b, _ := batchBody("application/json", `{}`, []string{}); return b }()},
		"devices object": {"?direct&api-version=2020-06", ct, func() string { b, _ := batchBody("application/json", `{}`, map[string]int{}); return b }()},
		"not direct":     {"?api-version=2020-06", ct, body},
		"not multipart":  {"?direct&api-version=2020-06", "application/json", `{}`},
		"broken":         {"?direct&api-version=2020-06", ct, "--B\r\nnonsense"},
		"bad payload":    {"?direct&api-version=2020-06", ct, func() string { b, _ := batchBody("application/json", `{`, []string{"d"}); return b }()},
	} {
		r := f.do("POST", "/messages/$batch"+tc.query, map[string]string{"Content-Type": tc.ct, "ServiceBusNotification-Format": "apple"}, tc.body)
		assert.Equal(t, 400, r.status, name)
		assert.Contains(t, r.body, "<Error><Code>400</Code>", name)
	}
	assert.Len(t, f.srv.Notifications(), 1, "nothing recorded for refused batches")
}

func TestScheduleCancelDetails(t *testing.T) {
	f := newFixture(t)
	f.install("i1", "apns", "t", "x")
	at := time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05Z")
	r := f.do("POST", "/schedulednotifications/?api-version=2020-06", merge(jsonHdr("apple"), "ServiceBusNotification-ScheduleTime", at, "ServiceBusNotification-Tags", "x"), `{"aps":{}}`)
	require.Equal(t, 201, r.status, r.body)
	loc := r.header.Get("Location")
	id := loc[strings.LastIndex(loc, "/")+1 : strings.Index(loc, "?")]

	d := f.do("GET", "/messages/"+id+"?api-version=2020-06", nil, "")
	require.Equal(t, 200, d.status)
	assert.Contains(t, d.body, "<State>Scheduled</State>")
	assert.Contains(t, d.body, "<ApnsOutcomeCounts><Outcome><Name>Success</Name><Count>1</Count></Outcome></ApnsOutcomeCounts>")

	assert.Equal(t, 200, f.do("DELETE", "/schedulednotifications/"+id+"?api-version=2020-06", nil, "").status)
	assert.Equal(t, 404, f.do("DELETE", "/schedulednotifications/"+id+"?api-version=2020-06", nil, "").status)
	assert.Equal(t, 404, f.do("DELETE", "/schedulednotifications/nope?api-version=2020-06", nil, "").status)
	assert.Contains(t, f.do("GET", "/messages/"+id+"?api-version=2020-06", nil, "").body, "<State>Abandoned</State>")
	assert.Equal(t, 404, f.do("GET", "/messages/unknown?api-version=2020-06", nil, "").status)

	for _, bad := range []string{"", "tomorrow", time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), time.Now().Add(8 * 24 * time.Hour).UTC().Format(time.RFC3339)} {
		r := f.do("POST", "/schedulednotifications/?api-version=2020-06", merge(jsonHdr("apple"), "ServiceBusNotification-ScheduleTime", bad), `{"aps":{}}`)
		assert.Equal(t, 400, r.status, bad)
	}
}

func TestValidation(t *testing.T) {
	f := newFixture(t)
	toast := `<toast><visual><binding template="ToastGeneric"><text>x</text></binding></visual></toast>`
	tests := []struct {
		name   string
		hdr    map[string]string
		body   string
		status int
		detail string
	}{
		{"no format", map[string]string{"Content-Type": "application/json"}, `{}`, 400, "ServiceBusNotification-Format"},
		{"unknown format", jsonHdr("ios"), `{}`, 400, "ServiceBusNotification-Format"},
		{"wrong content type", merge(jsonHdr("apple"), "Content-Type", "text/plain"), `{}`, 400, "Content-Type"},
		{"malformed JSON", jsonHdr("apple"), `{"aps":`, 400, "not a JSON object"},
		{"JSON array", jsonHdr("gcm"), `[]`, 400, "not a JSON object"},
		{"empty body", jsonHdr("apple"), ``, 400, "empty"},
		{"fcmv1 not wrapped", jsonHdr("fcmv1"), `{"notification":{}}`, 400, "fcmv1 notification must be of the form"},
		{"windows no type", map[string]string{"Content-Type": "application/xml", "ServiceBusNotification-Format": "windows"}, toast, 400, "X-WNS-Type"},
		{"windows bad type", map[string]string{"Content-Type": "application/xml", "ServiceBusNotification-Format": "windows", "X-WNS-Type": "wns/popup"}, toast, 400, "X-WNS-Type"},
		{"windows json type", map[string]string{"Content-Type": "application/json", "ServiceBusNotification-Format": "windows", "X-WNS-Type": "wns/toast"}, toast, 400, "Content-Type"},
		{"windows malformed", map[string]string{"Content-Type": "application/xml", "ServiceBusNotification-Format": "windows", "X-WNS-Type": "wns/toast"}, `<toast>`, 400, "well-formed"},
		{"raw not octet", map[string]string{"Content-Type": "application/xml", "ServiceBusNotification-Format": "windows", "X-WNS-Type": "wns/raw"}, `x`, 400, "octet-stream"},
		{"mpns malformed", map[string]string{"Content-Type": "application/xml", "ServiceBusNotification-Format": "windowsphone"}, `<a><b></a>`, 400, "well-formed"},
		{"bad tag expression", merge(jsonHdr("apple"), "ServiceBusNotification-Tags", "a &&"), `{}`, 400, "Tags"},
		{"too many tags", merge(jsonHdr("apple"), "ServiceBusNotification-Tags", "a && b && c && d && e && f && g"), `{}`, 400, "limit is 6"},
		{"64 KB + 1", jsonHdr("template"), `{"a":"` + strings.Repeat("x", 64*1024) + `"}`, 413, "over the limit"},
		{"raw ok", map[string]string{"Content-Type": "application/octet-stream", "ServiceBusNotification-Format": "windows", "X-WNS-Type": "wns/raw"}, `anything`, 201, ""},
		{"toast ok", map[string]string{"Content-Type": "application/xml", "ServiceBusNotification-Format": "windows", "X-WNS-Type": "wns/toast"}, toast, 201, ""},
		{"sdk content type ok", merge(jsonHdr("baidu"), "Content-Type", "application/json; charset=utf-8"), `{"title":"x"}`, 201, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(f.srv.Notifications())
			r := f.do("POST", "/messages/?api-version=2020-06", tt.hdr, tt.body)
			require.Equal(t, tt.status, r.status, r.body)
			if tt.status >= 400 {
				assert.Contains(t, r.body, tt.detail)
				assert.Contains(t, r.body, "<Error><Code>"+strconv.Itoa(tt.status)+"</Code><Detail>")
				assert.Contains(t, r.body, "TrackingId:"+r.header.Get("TrackingId"))
				assert.Len(t, f.srv.Notifications(), before)
			}
		})
	}
}

func TestAuthAndRouting(t *testing.T) {
	f := newFixture(t)
	full := f.full
	listen := f.srv.ruleNamed(ListenRuleName, RightListen)
	hubURL := f.srv.URL + "/" + f.srv.Hub
	exp := time.Now().Add(time.Hour).Unix()
	tests := []struct {
		name   string
		auth   string
		path   string
		status int
		detail string
	}{
		{"no token", "", "/nhpush/messages/?api-version=2020-06", 401, "MissingToken"},
		{"not SAS", "Bearer x", "/nhpush/messages/?api-version=2020-06", 401, "InvalidToken"},
		{"missing field", "SharedAccessSignature sr=x&sig=y&se=1", "/nhpush/messages/?api-version=2020-06", 401, "lacks skn"},
		{"unknown rule", sign(hubURL, "other", full.Key, exp), "/nhpush/messages/?api-version=2020-06", 401, "not a rule"},
		{"wrong key", sign(hubURL, full.Name, "d3Jvbmc=", exp), "/nhpush/messages/?api-version=2020-06", 401, "invalid signature"},
		{"expired", sign(hubURL, full.Name, full.Key, time.Now().Add(-time.Second).Unix()), "/nhpush/messages/?api-version=2020-06", 401, "ExpiredToken"},
		{"other hub's resource", sign(f.srv.URL+"/otherhub", full.Name, full.Key, exp), "/nhpush/messages/?api-version=2020-06", 401, "InvalidAudience"},
		{"prefix but not segment", sign(hubURL[:len(hubURL)-1], full.Name, full.Key, exp), "/nhpush/messages/?api-version=2020-06", 401, "InvalidAudience"},
		{"namespace resource covers", sign(f.srv.URL+"/", full.Name, full.Key, exp), "/nhpush/messages/?api-version=2020-06", 201, ""},
		{"sb resource covers", sign("sb://"+strings.TrimPrefix(f.srv.URL, "https://")+"/nhpush", full.Name, full.Key, exp), "/nhpush/messages/?api-version=2020-06", 201, ""},
		{"listen cannot send", sign(hubURL, listen.Name, listen.Key, exp), "/nhpush/messages/?api-version=2020-06", 401, "lacks the Send right"},
		{"unknown hub", sign(f.srv.URL+"/nohub", full.Name, full.Key, exp), "/nohub/messages/?api-version=2020-06", 404, "no such hub"},
		{"no api-version", sign(hubURL, full.Name, full.Key, exp), "/nhpush/messages/", 400, "api-version"},
		{"unknown route", sign(hubURL, full.Name, full.Key, exp), "/nhpush/registrations/x/y?api-version=2020-06", 404, "No route"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", f.srv.URL+tt.path, strings.NewReader(`{"aps":{}}`))
			for k, v := range jsonHdr("apple") {
				req.Header.Set(k, v)
			}
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := f.srv.Client().Do(req)
			require.NoError(t, err)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, tt.status, resp.StatusCode, string(b))
			assert.Contains(t, string(b), tt.detail)
		})
	}
	// A listen key may manage installations.
	b, _ := json.Marshal(map[string]any{"installationId": "x", "platform": "apns", "pushChannel": "t"})
	r := f.do("PUT", "/installations/x?api-version=2020-06", map[string]string{"Content-Type": "application/json", "Authorization": sign(hubURL, listen.Name, listen.Key, exp)}, string(b))
	assert.Equal(t, 200, r.status, r.body)
}

func TestNotificationsBounded(t *testing.T) {
	srv := NewUnstartedServer(Options{MaxNotifications: 10})
	require.NoError(t, srv.Start())
	defer srv.Close()
	f := &fixture{t: t, srv: srv, full: srv.ruleNamed(FullRuleName, RightSend)}
	var ids []string
	for i := range 25 {
		r := f.do("POST", "/messages/?api-version=2020-06", jsonHdr("apple"), fmt.Sprintf(`{"aps":{"n":%d}}`, i))
		require.Equal(t, 201, r.status)
		loc := r.header.Get("Location")
		ids = append(ids, loc[strings.LastIndex(loc, "/")+1:strings.Index(loc, "?")])
	}
	ns := srv.Notifications()
	assert.LessOrEqual(t, len(ns), 10)
	assert.Equal(t, `{"aps":{"n":24}}`, ns[len(ns)-1].Body, "the newest are kept")
	assert.Equal(t, 200, f.do("GET", "/messages/"+ids[24]+"?api-version=2020-06", nil, "").status)
	assert.Equal(t, 404, f.do("GET", "/messages/"+ids[0]+"?api-version=2020-06", nil, "").status, "the oldest are forgotten")
}
