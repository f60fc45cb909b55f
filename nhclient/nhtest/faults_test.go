package nhtest

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func (f *fixture) send() (reply, error) {
	req, _ := http.NewRequest("POST", f.srv.URL+"/"+f.srv.Hub+"/messages/?api-version=2020-06", strings.NewReader(`{"aps":{}}`))
	req.Header.Set("Authorization", f.token())
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("ServiceBusNotification-Format", "apple")
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}, err
}

func TestFaultNextN(t *testing.T) {
	f := newFixture(t)
	f.srv.InjectFault(Fault{Count: 2, Status: 429, RetryAfter: "3"})
	for range 2 {
		r, err := f.send()
		require.NoError(t, err)
		assert.Equal(t, 429, r.status)
		assert.Equal(t, "3", r.header.Get("Retry-After"))
		assert.Contains(t, r.body, "<Code>429</Code>")
	}
	r, err := f.send()
	require.NoError(t, err)
	assert.Equal(t, 201, r.status)
	assert.Equal(t, 2, f.srv.FaultsHit())
	assert.Len(t, f.srv.Notifications(), 1, "faulted requests are not recorded")
}

func TestFaultHTTPDate(t *testing.T) {
	f := newFixture(t)
	date := time.Now().Add(time.Minute).UTC().Format(http.TimeFormat)
	f.srv.InjectFault(Fault{Status: 503, RetryAfter: date})
	r, err := f.send()
	require.NoError(t, err)
	assert.Equal(t, 503, r.status)
	assert.Equal(t, date, r.header.Get("Retry-After"))
}

func TestFaultFraction(t *testing.T) {
	f := newFixture(t)
	f.srv.InjectFault(Fault{Fraction: 0.5, Status: 500})
	failed := 0
	for range 200 {
		r, err := f.send()
		require.NoError(t, err)
		if r.status == 500 {
			failed++
		}
	}
	assert.InDelta(t, 100, failed, 40, "about half fail")
	f.srv.ClearFaults()
	r, _ := f.send()
	assert.Equal(t, 201, r.status)
}

func TestFaultPathFilter(t *testing.T) {
	f := newFixture(t)
	f.srv.InjectFault(Fault{Status: 500, PathContains: "/installations/"})
	r, _ := f.send()
	assert.Equal(t, 201, r.status, "sends are not hit")
	assert.Equal(t, 500, f.do("GET", "/installations/x?api-version=2020-06", nil, "").status)
}

func TestFaultMatch(t *testing.T) {
	f := newFixture(t)
	f.srv.InjectFault(Fault{Fraction: 1, Status: 503, Match: "vip"})
	r := f.do("POST", "/messages/?api-version=2020-06", merge(jsonHdr("apple"), "ServiceBusNotification-Tags", "news"), `{"aps":{}}`)
	assert.Equal(t, 201, r.status)
	for range 3 {
		r = f.do("POST", "/messages/?api-version=2020-06", merge(jsonHdr("apple"), "ServiceBusNotification-Tags", "vip || x"), `{"aps":{}}`)
		assert.Equal(t, 503, r.status)
	}
	r = f.do("POST", "/messages/?api-version=2020-06&direct", merge(jsonHdr("apple"), "ServiceBusNotification-DeviceHandle", "vip-phone"), `{"aps":{}}`)
	assert.Equal(t, 503, r.status)
}

func TestFaultLatencyDropStall(t *testing.T) {
	f := newFixture(t)
	f.srv.InjectFault(Fault{Latency: Duration(150 * time.Millisecond)})
	start := time.Now()
	r, err := f.send()
	require.NoError(t, err)
	assert.Equal(t, 201, r.status, "latency alone delays, then serves")
	assert.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)

	f.srv.InjectFault(Fault{Drop: true})
	_, err = f.send()
	require.Error(t, err, "the connection is dropped without an answer")

	f.srv.InjectFault(Fault{Stall: true})
	f.srv.Client().Timeout = 200 * time.Millisecond
	defer func() { f.srv.Client().Timeout = 0 }()
	_, err = f.send()
	require.Error(t, err, "the body stalls until the client gives up")
	var ne interface{ Timeout() bool }
	assert.True(t, errors.As(err, &ne) && ne.Timeout(), "%v", err)
}

func TestControlAPI(t *testing.T) {
	f := newFixture(t)
	ctl := func(method, path, body string) reply {
		req, _ := http.NewRequest(method, f.srv.URL+ControlPrefix+path, strings.NewReader(body))
		resp, err := f.srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return reply{resp.StatusCode, resp.Header, string(b)}
	}
	assert.Equal(t, 204, ctl("POST", "faults", `{"count":1,"status":503,"retryAfter":"1","pathContains":"/messages"}`).status)
	r, _ := f.send()
	assert.Equal(t, 503, r.status)
	assert.Equal(t, 400, ctl("POST", "faults", `{"status":1000}`).status)
	assert.Equal(t, 400, ctl("POST", "faults", `{"fraction":2}`).status)
	assert.Equal(t, 400, ctl("POST", "faults", `{"bogus":1}`).status)
	assert.Equal(t, 204, ctl("POST", "faults", `{"count":5,"status":500}`).status)
	assert.Equal(t, 204, ctl("DELETE", "faults", "").status)
	f.install("i1", "apns", "t", "x")
	r, _ = f.send()
	require.Equal(t, 201, r.status)

	n := ctl("GET", "notifications", "")
	assert.Equal(t, 200, n.status)
	assert.Contains(t, n.body, `"kind": "send"`)
	assert.Contains(t, n.body, `"installationId": "i1"`)
	assert.Contains(t, ctl("GET", "installations", "").body, `"installationId": "i1"`)

	assert.Equal(t, 204, ctl("POST", "reset", "").status)
	assert.Equal(t, "[]\n", ctl("GET", "notifications", "").body)
	assert.Equal(t, 404, ctl("GET", "nope", "").status)
}
