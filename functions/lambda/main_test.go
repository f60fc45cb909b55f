package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewHandlerSettings(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	cs := "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=c2VjcmV0"
	h, err := newHandler(env(map[string]string{"NH_CONNECTION_STRING": cs, "NH_HUB_NAME": "hub", "SQS_CONCURRENCY": "16"}))
	require.NoError(t, err)
	assert.NotNil(t, h)
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"NH_CONNECTION_STRING": cs, "NH_HUB_NAME": "hub", "SQS_CONCURRENCY": "0"}, "SQS_CONCURRENCY must be"},
		{map[string]string{"NH_CONNECTION_STRING": cs, "NH_HUB_NAME": "hub", "SQS_CONCURRENCY": "x"}, "SQS_CONCURRENCY must be"},
		{map[string]string{"NH_RESOURCE_ID": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.NotificationHubs/namespaces/ns/notificationHubs/h"},
			"NH_RESOURCE_ID (managed identity) is not supported here; set NH_CONNECTION_STRING"},
	} {
		_, err := newHandler(env(tc.env))
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.want)
	}
}
