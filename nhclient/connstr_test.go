package nhclient

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testKey = "q9tNJ3Ct4X1h0oVb/9QkM6cP+ZmLr0sDa8xW2yE5u1A="

func TestParseConnectionString(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want ConnectionString
	}{
		{"portal form", "Endpoint=sb://my-ns.servicebus.windows.net/;SharedAccessKeyName=DefaultFullSharedAccessSignature;SharedAccessKey=" + testKey,
			ConnectionString{Endpoint: "https://my-ns.servicebus.windows.net", KeyName: "DefaultFullSharedAccessSignature", Key: testKey}},
		{"entity path, trailing semicolon", "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=abc==;EntityPath=hub;",
			ConnectionString{Endpoint: "https://ns.servicebus.windows.net", KeyName: "k", Key: "abc==", EntityPath: "hub"}},
		{"any order, any case, whitespace", "  sharedaccesskey = abc= ; ENDPOINT=sb://NS.servicebus.windows.net ; SharedAccessKeyName=k ",
			ConnectionString{Endpoint: "https://ns.servicebus.windows.net", KeyName: "k", Key: "abc="}},
		{"https endpoint with port", "Endpoint=https://127.0.0.1:7443/;SharedAccessKeyName=k;SharedAccessKey=s",
			ConnectionString{Endpoint: "https://127.0.0.1:7443", KeyName: "k", Key: "s"}},
		{"sb endpoint with port, no slash", "Endpoint=sb://localhost:7443;SharedAccessKeyName=k;SharedAccessKey=s",
			ConnectionString{Endpoint: "https://localhost:7443", KeyName: "k", Key: "s"}},
		{"ipv6", "Endpoint=sb://[::1]:7443/;SharedAccessKeyName=k;SharedAccessKey=s",
			ConnectionString{Endpoint: "https://[::1]:7443", KeyName: "k", Key: "s"}},
		{"unknown keys ignored", "Endpoint=sb://ns/;SharedAccessKeyName=k;SharedAccessKey=s;TransportType=Amqp",
			ConnectionString{Endpoint: "https://ns", KeyName: "k", Key: "s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConnectionString(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseConnectionStringErrors(t *testing.T) {
	const secret = "SuperSecretKeyValue0123456789="
	tests := []struct {
		name, in, wantMsg string
	}{
		{"empty", "", "Endpoint is missing"},
		{"no endpoint", "SharedAccessKeyName=k;SharedAccessKey=" + secret, "Endpoint is missing"},
		{"no key name", "Endpoint=sb://ns/;SharedAccessKey=" + secret, "SharedAccessKeyName is missing"},
		{"no key", "Endpoint=sb://ns/;SharedAccessKeyName=k", "SharedAccessKey is missing"},
		{"empty key", "Endpoint=sb://ns/;SharedAccessKeyName=k;SharedAccessKey=", "SharedAccessKey is missing"},
		{"part without =", "Endpoint=sb://ns/;SharedAccessKeyName=k;SharedAccessKey", "has no '='"},
		{"duplicate key", "Endpoint=sb://ns/;SharedAccessKeyName=k;SharedAccessKey=" + secret + ";sharedaccesskey=" + secret, "appears twice"},
		{"http scheme", "Endpoint=http://ns/;SharedAccessKeyName=k;SharedAccessKey=" + secret, "scheme must be sb:// or https://"},
		{"no host", "Endpoint=sb:///;SharedAccessKeyName=k;SharedAccessKey=" + secret, "no host"},
		{"path", "Endpoint=sb://ns/hub;SharedAccessKeyName=k;SharedAccessKey=" + secret, "no path"},
		{"bad port", "Endpoint=sb://ns:port/;SharedAccessKeyName=k;SharedAccessKey=" + secret, "Endpoint"},
		{"entity path with slash", "Endpoint=sb://ns/;SharedAccessKeyName=k;SharedAccessKey=" + secret + ";EntityPath=a/b", "EntityPath"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConnectionString(tt.in)
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrInvalidConnectionString))
			assert.Contains(t, err.Error(), tt.wantMsg)
			assert.NotContains(t, err.Error(), secret, "an error must never echo the key")
		})
	}
}

func TestConnectionStringStringRedactsKey(t *testing.T) {
	cs, err := ParseConnectionString("Endpoint=sb://ns/;SharedAccessKeyName=k;SharedAccessKey=" + testKey + ";EntityPath=h")
	require.NoError(t, err)
	assert.Equal(t, "Endpoint=https://ns/;SharedAccessKeyName=k;SharedAccessKey=REDACTED;EntityPath=h", cs.String())
}

func FuzzParseConnectionString(f *testing.F) {
	for _, s := range []string{
		"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=abc=",
		"Endpoint=https://127.0.0.1:7443/;SharedAccessKeyName=k;SharedAccessKey=s;EntityPath=hub;",
		"endpoint=sb://[::1]:1/;sharedaccesskeyname=a;sharedaccesskey==;",
		";;;", "=", "Endpoint=sb://%zz/;SharedAccessKeyName=k;SharedAccessKey=s",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := ParseConnectionString(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidConnectionString) {
				t.Fatalf("error does not wrap ErrInvalidConnectionString: %v", err)
			}
			return
		}
		if !strings.HasPrefix(cs.Endpoint, "https://") || cs.KeyName == "" || cs.Key == "" {
			t.Fatalf("accepted an incomplete connection string: %+v", cs)
		}
		// String() redacts the key and round-trips everything else.
		back, err := ParseConnectionString(cs.String())
		if err != nil {
			t.Fatalf("String() does not parse back: %v", err)
		}
		want := cs
		want.Key = "REDACTED"
		if back != want {
			t.Fatalf("round trip: got %+v, want %+v", back, want)
		}
	})
}
