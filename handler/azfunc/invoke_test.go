package azfunc

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func load(t *testing.T, name string) *InvokeRequest {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	inv, err := DecodeInvokeRequest(b)
	require.NoError(t, err)
	return inv
}

func TestDocsQueuePayload(t *testing.T) {
	inv := load(t, "docs-queue-invocation.json")
	msg, err := inv.Message("myQueueItem")
	require.NoError(t, err)
	assert.Equal(t, `{ message: "Message sent" }`, string(msg))
	assert.Equal(t, 1, inv.DequeueCount())
	assert.Equal(t, "800ae4b3-bdd2-4c08-badd-f08e5a34b865", inv.MetadataString("Id"))
	assert.Equal(t, "AgAAAAMAAAAAAAAAAgtnj8x+1QE=", inv.MetadataString("PopReceipt"))
}

func TestHostQuirksPayload(t *testing.T) {
	inv := load(t, "host-queue-quirks.json")
	msg, err := inv.Message("queue")
	require.NoError(t, err)
	assert.JSONEq(t, `{"message":"hello","number":2}`, string(msg))
	assert.Equal(t, 1, inv.DequeueCount(), "a count sent as a string")
	assert.Equal(t, "4e773554-f6b7-4ea2-b07d-4c5fd5aba741", inv.MetadataString("Id"), "an id encoded twice")
	assert.Equal(t, "STRING", inv.MetadataString("PopReceipt"))
	assert.Equal(t, "hello", inv.MetadataString("heyoooo"))
	assert.Equal(t, "", inv.MetadataString("absent"))
	_, err = inv.Message("message")
	assert.ErrorIs(t, err, ErrMalformedInvocation)
}

func TestDocsHTTPPayload(t *testing.T) {
	inv := load(t, "docs-http-invocation.json")
	var d HTTPRequestData
	require.NoError(t, json.Unmarshal(inv.Data["req"], &d))
	assert.Equal(t, "POST", d.Method)
	assert.Equal(t, "http://localhost:7071/api/order", d.URL)
	assert.Equal(t, []string{"application/json"}, d.Headers["Content-Type"])
	assert.JSONEq(t, `{"id":1005,"quantity":2,"color":"black"}`, string(d.BodyBytes()))
}

func TestMessageForms(t *testing.T) {
	obj := `{"platform":"apple","payload":{"aps":{}}}`
	b64 := base64.StdEncoding.EncodeToString([]byte(obj))
	tests := []struct {
		name, data, want string
	}{
		{"string of JSON", `"{\"platform\":\"apple\",\"payload\":{\"aps\":{}}}"`, obj},
		{"object as is", obj, obj},
		{"base64 of JSON", `"` + b64 + `"`, obj},
		{"plain text", `"hello"`, "hello"},
	}
	for _, tt := range tests {
		inv, err := DecodeInvokeRequest([]byte(`{"Data":{"message":` + tt.data + `},"Metadata":{}}`))
		require.NoError(t, err, tt.name)
		got, err := inv.Message("message")
		require.NoError(t, err, tt.name)
		assert.Equal(t, tt.want, string(got), tt.name)
	}
	for _, bad := range []string{``, `[]`, `{}`, `{"Data":null}`, `{"Data":{"message":null}}`, `{"Data":{"message":"\u0000`} {
		inv, err := DecodeInvokeRequest([]byte(bad))
		if err == nil {
			_, err = inv.Message("message")
		}
		assert.ErrorIs(t, err, ErrMalformedInvocation, bad)
	}
}

func FuzzInvocation(f *testing.F) {
	for _, name := range []string{"docs-queue-invocation.json", "host-queue-quirks.json", "docs-http-invocation.json"} {
		b, _ := os.ReadFile("testdata/" + name)
		f.Add(b)
	}
	f.Add([]byte(`{"Data":{"message":"eyJhIjoxfQ=="},"Metadata":{"DequeueCount":"x"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		inv, err := DecodeInvokeRequest(b)
		if err != nil {
			return
		}
		inv.Message("message")
		inv.Message("queue")
		inv.DequeueCount()
		inv.MetadataString("Id")
		var d HTTPRequestData
		if json.Unmarshal(inv.Data["req"], &d) == nil {
			d.BodyBytes()
		}
	})
}
