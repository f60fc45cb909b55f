package nhtest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInstallationRoutes(t *testing.T) {
	f := newFixture(t)
	js := map[string]string{"Content-Type": "application/json"}
	patch := map[string]string{"Content-Type": "application/json-patch+json"}
	const q = "?api-version=2020-06"
	body := `{"installationId":"d1","platform":"apns","pushChannel":"tok","tags":["a","b"],"templates":{"t1":{"body":"{\"aps\":{\"alert\":\"$(m)\"}}","tags":["tt"]}}}`
	require.Equal(t, 200, f.do("PUT", "/installations/d1"+q, js, body).status)

	g := f.do("GET", "/installations/d1"+q, nil, "")
	require.Equal(t, 200, g.status)
	var inst Installation
	require.NoError(t, json.Unmarshal([]byte(g.body), &inst))
	assert.Equal(t, []string{"a", "b"}, inst.Tags)
	assert.Equal(t, `"tok"`, string(inst.PushChannel))

	ops := `[{"op":"add","path":"/tags","value":"c"},{"op":"remove","path":"/tags/a"},{"op":"add","path":"/templates/t2","value":"{\"body\":\"{}\"}"},{"op":"remove","path":"/templates/t1"},{"op":"replace","path":"/pushChannel","value":"tok2"},{"op":"add","path":"/userId","value":"ann"}]`
	r := f.do("PATCH", "/installations/d1"+q, patch, ops)
	require.Equal(t, 200, r.status, r.body)
	got := f.srv.Installations(f.srv.Hub)
	require.Len(t, got, 1)
	assert.Equal(t, []string{"b", "c"}, got[0].Tags)
	assert.Equal(t, `"tok2"`, string(got[0].PushChannel))
	assert.Equal(t, "ann", got[0].UserID)
	assert.Equal(t, map[string]Template{"t2": {Body: "{}"}}, got[0].Templates)

	r = f.do("PATCH", "/installations/d1"+q, patch, `[{"op":"replace","path":"/tags","value":["x","y"]}]`)
	require.Equal(t, 200, r.status, r.body)
	assert.Equal(t, []string{"x", "y"}, f.srv.Installations(f.srv.Hub)[0].Tags)

	assert.Equal(t, 204, f.do("DELETE", "/installations/d1"+q, nil, "").status)
	assert.Equal(t, 404, f.do("GET", "/installations/d1"+q, nil, "").status)
	assert.Equal(t, 204, f.do("DELETE", "/installations/d1"+q, nil, "").status, "deleting a missing installation succeeds")
	assert.Equal(t, 404, f.do("PATCH", "/installations/d1"+q, patch, `[{"op":"add","path":"/tags","value":"c"}]`).status)

	f.install("d2", "fcmv1", "t")
	tags61 := make([]string, 61)
	for i := range tags61 {
		tags61[i] = "t" + strings.Repeat("x", i)
	}
	many, _ := json.Marshal(map[string]any{"installationId": "d3", "platform": "apns", "pushChannel": "t", "tags": tags61})
	bad := []struct {
		name, method, path, ct, body, detail string
	}{
		{"id mismatch", "PUT", "/installations/d9", "application/json", `{"installationId":"other","platform":"apns","pushChannel":"t"}`, "does not match"},
		{"bad platform", "PUT", "/installations/d3", "application/json", `{"installationId":"d3","platform":"ios","pushChannel":"t"}`, "platform"},
		{"no channel", "PUT", "/installations/d3", "application/json", `{"installationId":"d3","platform":"apns"}`, "pushChannel"},
		{"61 tags", "PUT", "/installations/d3", "application/json", string(many), "at most 60"},
		{"bad tag", "PUT", "/installations/d3", "application/json", `{"installationId":"d3","platform":"apns","pushChannel":"t","tags":["a b"]}`, "invalid character"},
		{"not JSON", "PUT", "/installations/d3", "application/json", `{`, "not valid JSON"},
		{"wrong type", "PUT", "/installations/d3", "text/plain", `{}`, "application/json"},
		{"patch not array", "PATCH", "/installations/d2", "application/json-patch+json", `{}`, "JSON array"},
		{"patch bad op", "PATCH", "/installations/d2", "application/json-patch+json", `[{"op":"move","path":"/tags"}]`, "not add, remove or replace"},
		{"patch bad path", "PATCH", "/installations/d2", "application/json-patch+json", `[{"op":"add","path":"/platform","value":"x"}]`, "not supported"},
		{"patch bad tag", "PATCH", "/installations/d2", "application/json-patch+json", `[{"op":"add","path":"/tags","value":"a b"}]`, "invalid character"},
	}
	for _, b := range bad {
		r := f.do(b.method, b.path+q, map[string]string{"Content-Type": b.ct}, b.body)
		assert.Equal(t, 400, r.status, b.name)
		assert.Contains(t, r.body, b.detail, b.name)
	}
	assert.Equal(t, 405, f.do("POST", "/installations/d2"+q, js, `{}`).status)
}

func TestTemplateSendExpandsPerInstallation(t *testing.T) {
	f := newFixture(t)
	f.srv.PutInstallation(f.srv.Hub, Installation{InstallationID: "ios", Platform: "apns", PushChannel: json.RawMessage(`"t1"`), Tags: []string{"s"},
		Templates: map[string]Template{"main": {Body: `{"aps":{"alert":"$(title) #(count)"}}`}}})
	f.srv.PutInstallation(f.srv.Hub, Installation{InstallationID: "android", Platform: "fcmv1", PushChannel: json.RawMessage(`"t2"`),
		Templates: map[string]Template{"main": {Body: `{"message":{"data":{"t":"$(title)"}}}`, Tags: []string{"s"}}}})
	f.srv.PutInstallation(f.srv.Hub, Installation{InstallationID: "none", Platform: "fcmv1", PushChannel: json.RawMessage(`"t3"`)})
	r := f.do("POST", "/messages/?api-version=2020-06", merge(jsonHdr("template"), "ServiceBusNotification-Tags", "s"), `{"title":"Goal","count":"3"}`)
	require.Equal(t, 201, r.status, r.body)
	ds := f.srv.Notifications()[0].Deliveries
	require.Len(t, ds, 2)
	assert.Equal(t, Delivery{InstallationID: "android", Platform: "fcmv1", PushChannel: "t2", Template: "main", Payload: `{"message":{"data":{"t":"Goal"}}}`}, ds[0])
	assert.Equal(t, Delivery{InstallationID: "ios", Platform: "apns", PushChannel: "t1", Template: "main", Payload: `{"aps":{"alert":"Goal 3"}}`}, ds[1])
}

func TestExpiredChannelsSkipped(t *testing.T) {
	f := newFixture(t)
	f.srv.PutInstallation(f.srv.Hub, Installation{InstallationID: "old", Platform: "apns", PushChannel: json.RawMessage(`"t"`), PushChannelExpired: true})
	r := f.do("POST", "/messages/?api-version=2020-06&test", jsonHdr("apple"), `{"aps":{}}`)
	require.Equal(t, 201, r.status)
	assert.Contains(t, r.body, "<Success>0</Success>")
}
