package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const secret = "c2VjcmV0LWtleS10aGF0LW11c3Qtbm90LWxlYWs="

func envOf(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestConfigFromEnv(t *testing.T) {
	cs := "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=" + secret
	c, err := ConfigFromEnv(envOf(map[string]string{"NH_CONNECTION_STRING": cs, "NH_HUB_NAME": "hub", "LOG_LEVEL": "WARN"}))
	require.NoError(t, err)
	assert.Equal(t, "hub", c.Hub)
	assert.Equal(t, slog.LevelWarn, c.LogLevel)
	assert.Equal(t, DefaultAuthRule, c.AuthRule)
	assert.Equal(t, DefaultARMEndpoint, c.ARMEndpoint)
	assert.False(t, c.Debug)

	c, err = ConfigFromEnv(envOf(map[string]string{"NH_CONNECTION_STRING": cs + ";EntityPath=fromcs", "NH_DEBUG": "1", "NH_MAX_RETRIES": "5"}))
	require.NoError(t, err)
	assert.Equal(t, 5, c.MaxRetries)
	assert.Equal(t, "fromcs", c.Hub)
	assert.True(t, c.Debug)
	assert.Equal(t, slog.LevelDebug, c.LogLevel, "NH_DEBUG lowers the level so the dumps show")
	client, err := c.NewClient(context.Background(), slog.Default(), nil)
	require.NoError(t, err)
	assert.Equal(t, "fromcs", client.Hub())
}

func TestConfigErrorsNameTheSetting(t *testing.T) {
	good := "Endpoint=sb://ns/;SharedAccessKeyName=k;SharedAccessKey=" + secret
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "NH_CONNECTION_STRING is not set"},
		{map[string]string{"NH_CONNECTION_STRING": "Endpoint=sb://ns/;SharedAccessKey=" + secret}, "NH_CONNECTION_STRING: invalid connection string: SharedAccessKeyName is missing"},
		{map[string]string{"NH_CONNECTION_STRING": "Endpoint=http://ns/;SharedAccessKeyName=k;SharedAccessKey=" + secret, "NH_HUB_NAME": "h"}, "NH_CONNECTION_STRING: invalid connection string: Endpoint scheme"},
		{map[string]string{"NH_CONNECTION_STRING": good}, "NH_HUB_NAME is not set"},
		{map[string]string{"NH_CONNECTION_STRING": good, "NH_HUB_NAME": "h", "LOG_LEVEL": "loud"}, "LOG_LEVEL must be"},
		{map[string]string{"NH_CONNECTION_STRING": good, "NH_HUB_NAME": "h", "NH_DEBUG": "yes"}, "NH_DEBUG must be"},
		{map[string]string{"NH_RESOURCE_ID": "/subscriptions/x"}, "NH_RESOURCE_ID"},
		{map[string]string{"NH_CONNECTION_STRING": good, "NH_HUB_NAME": "h", "NH_MAX_RETRIES": "many"}, "NH_MAX_RETRIES must be"},
		{map[string]string{"NH_CONNECTION_STRING": good, "NH_HUB_NAME": "h", "NH_MAX_RETRIES": "11"}, "NH_MAX_RETRIES must be"},
	}
	for _, tt := range tests {
		_, err := ConfigFromEnv(envOf(tt.env))
		require.Error(t, err, tt.want)
		assert.Contains(t, err.Error(), tt.want)
		assert.NotContains(t, err.Error(), secret)
		assert.NotContains(t, err.Error(), "\n", "one line")
	}
	c, err := ConfigFromEnv(envOf(map[string]string{"NH_CONNECTION_STRING": good, "NH_HUB_NAME": "a/b"}))
	require.NoError(t, err)
	_, err = c.NewClient(context.Background(), nil, nil)
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "NH_CONNECTION_STRING / NH_HUB_NAME: invalid hub name"), err.Error())
}

func FuzzDecodeSendRequest(f *testing.F) {
	for _, s := range []string{
		`{"platform":"apple","payload":{"aps":{}},"tags":["a"]}`,
		`{"platform":"windows","payload":"<toast/>","headers":{"X-WNS-Type":"wns/toast"}}`,
		`{"platform":"template","payload":{"a":"b"},"tagExpression":"a && !b"}`,
		`{"platform":"fcmv1","payload":{},"deviceHandles":["a","b"]}`,
		`{"platform":"apple","payload":{},"scheduleTime":"2026-12-05T10:00:00Z"}`,
		`{`, `[]`, `{"x":1}`, `{"platform":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// The light key check must agree with encoding/json's own
		// DisallowUnknownFields on every object that decodes.
		var ref SendRequest
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		refErr := dec.Decode(&ref)
		refUnknown := refErr != nil && strings.HasPrefix(refErr.Error(), "json: unknown field ")
		if json.Valid(b) && bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
			var plain SendRequest
			if json.Unmarshal(b, &plain) == nil {
				_, ours := unknownKey(bytes.TrimSpace(b), sendRequestFields)
				if ours != refUnknown {
					t.Fatalf("unknown-field check disagrees with encoding/json (ours %v, json %v: %v) on %q", ours, refUnknown, refErr, b)
				}
			}
		}
		req, err := DecodeSendRequest(b)
		if err != nil {
			e, ok := err.(*Error)
			if !ok || e.Status < 400 || e.Status > 499 {
				t.Fatalf("decode error is not a 4xx *Error: %v", err)
			}
			return
		}
		if _, err := req.Parse(testNow); err != nil {
			if e, ok := err.(*Error); !ok || e.Status < 400 || e.Status > 499 || e.Code == "" {
				t.Fatalf("parse error is not a 4xx *Error with a code: %v", err)
			}
		}
	})
}

var testNow = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

func TestCheckContentType(t *testing.T) {
	for ct, ok := range map[string]bool{
		"": true, "application/json": true, "application/json;charset=utf-8": true, "application/json; charset=utf-8": true,
		"application/json; charset=UTF-8": true, "Application/JSON": true, "application/json; charset=latin1": true,
		"application/jsonx": false, "application/json-patch+json": false, "text/plain": false, "application/x-www-form-urlencoded": false, ";": false,
	} {
		e := checkContentType(ct, "application/json")
		assert.Equal(t, ok, e == nil, "%q", ct)
		if e != nil {
			assert.Equal(t, 415, e.Status)
		}
	}
}

func TestUnknownKey(t *testing.T) {
	known := sendRequestFields
	tests := map[string]string{
		`{}`: "",
		`{"platform":"a","payload":{"x":{"y":[1,"}",{"z":"]"}]}},"tags":["a","b"],"test":true}`: "",
		`{ "PLATFORM" : "a" , "Test":false }`:                                                   "",
		`{"platform":"a","extra":1}`:                                                            "extra",
		`{"payload":{"extra":1},"tags":[]}`:                                                     "",
		`{"pay\u006coad":{},"x\"y":null}`:                                                       `x"y`,
		`{"headers":{"a":"b\"c"},"tagz":"x"}`:                                                   "tagz",
		"{\n\t\"test\": 1e3,\r\n\"z\": [ ] }":                                                   "z",
	}
	for in, want := range tests {
		got, found := unknownKey([]byte(in), known)
		assert.Equal(t, want != "", found, in)
		assert.Equal(t, want, got, in)
	}
}
