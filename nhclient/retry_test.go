package nhclient

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordSleeps replaces the client's sleep and records each wait.
func recordSleeps(c *Client) *[]time.Duration {
	var mu sync.Mutex
	var waits []time.Duration
	c.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		return ctx.Err()
	}
	return &waits
}

func nhErr(status int, hdr map[string]string) func(http.ResponseWriter) {
	return answer(status, hdr, `<Error><Code>`+http.StatusText(status)+`</Code><Detail>detail TrackingId:tid-9,TimeStamp:x</Detail></Error>`)
}

func TestRetryMatrix(t *testing.T) {
	date := time.Now().Add(3 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name      string
		answers   []func(http.ResponseWriter)
		wantTries int
		wantErr   bool
		retryable bool
		checkWait func(t *testing.T, waits []time.Duration)
	}{
		{"400 not retried", []func(http.ResponseWriter){nhErr(400, nil)}, 1, true, false, nil},
		{"401 not retried", []func(http.ResponseWriter){nhErr(401, nil)}, 1, true, false, nil},
		{"403 without Retry-After not retried", []func(http.ResponseWriter){nhErr(403, nil)}, 1, true, false, nil},
		{"404 not retried", []func(http.ResponseWriter){nhErr(404, nil)}, 1, true, false, nil},
		{"413 not retried", []func(http.ResponseWriter){nhErr(413, nil)}, 1, true, false, nil},
		{"403 with Retry-After retried", []func(http.ResponseWriter){nhErr(403, map[string]string{"Retry-After": "2"}), nil}, 2, false, false,
			func(t *testing.T, w []time.Duration) { assert.Equal(t, []time.Duration{2 * time.Second}, w) }},
		{"408 retried", []func(http.ResponseWriter){nhErr(408, nil), nil}, 2, false, false, nil},
		{"429 Retry-After seconds", []func(http.ResponseWriter){nhErr(429, map[string]string{"Retry-After": "7"}), nil}, 2, false, false,
			func(t *testing.T, w []time.Duration) { assert.Equal(t, []time.Duration{7 * time.Second}, w) }},
		{"429 Retry-After date", []func(http.ResponseWriter){nhErr(429, map[string]string{"Retry-After": date}), nil}, 2, false, false,
			func(t *testing.T, w []time.Duration) {
				require.Len(t, w, 1)
				assert.InDelta(t, 3*time.Second, w[0], float64(1500*time.Millisecond))
			}},
		{"429 Retry-After over MaxDelay returned", []func(http.ResponseWriter){nhErr(429, map[string]string{"Retry-After": "3600"})}, 1, true, true, nil},
		{"500 retried", []func(http.ResponseWriter){nhErr(500, nil), nil}, 2, false, false, nil},
		{"502 503 504 retried", []func(http.ResponseWriter){nhErr(502, nil), nhErr(503, nil), nhErr(504, nil), nil}, 4, false, false,
			func(t *testing.T, w []time.Duration) {
				require.Len(t, w, 3)
				for i, d := range w { // exponential with jitter: [base<<i / 2, base<<i]
					base := 250 * time.Millisecond << i
					assert.GreaterOrEqual(t, d, base/2)
					assert.LessOrEqual(t, d, base)
				}
			}},
		{"501 not retried", []func(http.ResponseWriter){nhErr(501, nil)}, 1, true, false, nil},
		{"gives up after MaxRetries", []func(http.ResponseWriter){nhErr(503, nil), nhErr(503, nil), nhErr(503, nil), nhErr(503, nil), nil}, 4, true, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := newWireServer(t)
			ws.script(tt.answers...)
			c := ws.client(t, nil)
			waits := recordSleeps(c)
			_, err := c.Send(context.Background(), NewAppleNotification([]byte(`{}`), nil), nil)
			assert.Len(t, ws.requests(), tt.wantTries)
			if !tt.wantErr {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				var re *ResponseError
				require.True(t, errors.As(err, &re))
				assert.Equal(t, "tid-9", re.TrackingID)
				assert.Equal(t, tt.retryable, IsRetryable(err))
			}
			if tt.checkWait != nil {
				tt.checkWait(t, *waits)
			}
			bodies := map[string]bool{}
			for _, r := range ws.requests() {
				bodies[r.Body] = true
			}
			assert.Equal(t, map[string]bool{"{}": true}, bodies, "each retry replays the same body")
		})
	}
}

func TestRetryDisabled(t *testing.T) {
	ws := newWireServer(t)
	ws.script(nhErr(503, nil))
	c := ws.client(t, &ClientOptions{Retry: RetryOptions{MaxRetries: -1}})
	_, err := c.Send(context.Background(), NewAppleNotification([]byte(`{}`), nil), nil)
	require.Error(t, err)
	assert.True(t, IsRetryable(err))
	assert.Len(t, ws.requests(), 1)
}

func TestRetryStopsWhenContextEnds(t *testing.T) {
	ws := newWireServer(t)
	ws.script(nhErr(503, nil), nhErr(503, nil))
	c := ws.client(t, &ClientOptions{Retry: RetryOptions{BaseDelay: time.Hour, MaxDelay: time.Hour}})
	c.sleep = sleepContext
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Send(ctx, NewAppleNotification([]byte(`{}`), nil), nil)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second, "returns when the context ends, not after the backoff")
	assert.Len(t, ws.requests(), 1)
}

func TestTransportErrorsRetried(t *testing.T) {
	ws := newWireServer(t)
	c := ws.client(t, nil)
	waits := recordSleeps(c)
	ws.Close() // connection refused from now on
	_, err := c.Send(context.Background(), NewAppleNotification([]byte(`{}`), nil), nil)
	require.Error(t, err)
	var te *TransportError
	require.True(t, errors.As(err, &te))
	assert.True(t, IsRetryable(err))
	assert.Len(t, *waits, 3)
}

func TestTryTimeout(t *testing.T) {
	ws := newWireServer(t)
	ws.script(func(w http.ResponseWriter) { time.Sleep(300 * time.Millisecond) }, nil)
	c := ws.client(t, &ClientOptions{Retry: RetryOptions{TryTimeout: 50 * time.Millisecond}})
	res, err := c.Send(context.Background(), NewAppleNotification([]byte(`{}`), nil), nil)
	require.NoError(t, err, "a timed-out try is retried")
	assert.Equal(t, "n-1", res.NotificationID)
}

func TestResponseErrorParsing(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		want   ResponseError
	}{
		{"xml", 401, http.Header{"Trackingid": {"t1"}}, `<Error><Code>401</Code><Detail>ExpiredToken: . TrackingId:t1,TimeStamp:x</Detail></Error>`,
			ResponseError{StatusCode: 401, Code: "401", Detail: "ExpiredToken: . TrackingId:t1,TimeStamp:x", TrackingID: "t1"}},
		{"tracking id from detail", 400, http.Header{}, `<Error><Code>400</Code><Detail>Bad. TrackingId:abc-1,TimeStamp:x</Detail></Error>`,
			ResponseError{StatusCode: 400, Code: "400", Detail: "Bad. TrackingId:abc-1,TimeStamp:x", TrackingID: "abc-1"}},
		{"not xml", 502, http.Header{}, "upstream <b>broke", ResponseError{StatusCode: 502, Detail: "upstream <b>broke"}},
		{"empty", 503, http.Header{"Retry-After": {"5"}}, "", ResponseError{StatusCode: 503, RetryAfter: 5 * time.Second}},
		{"date", 429, http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, "", ResponseError{StatusCode: 429, RetryAfter: 90 * time.Second}},
		{"past date", 429, http.Header{"Retry-After": {now.Add(-time.Hour).Format(http.TimeFormat)}}, "", ResponseError{StatusCode: 429}},
		{"garbage retry", 429, http.Header{"Retry-After": {"soon"}}, "", ResponseError{StatusCode: 429}},
		{"long body", 500, http.Header{}, strings.Repeat("x", 600), ResponseError{StatusCode: 500, Detail: strings.Repeat("x", 512) + "..."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := newResponseError("POST", "https://ns/hub/messages/", &http.Response{StatusCode: tt.status, Header: tt.header}, []byte(tt.body), now)
			tt.want.Method, tt.want.URL = "POST", "https://ns/hub/messages/"
			assert.Equal(t, &tt.want, got)
			assert.Contains(t, got.Error(), http.StatusText(tt.status))
		})
	}
}

func TestIsRetryable(t *testing.T) {
	assert.False(t, IsRetryable(nil))
	assert.False(t, IsRetryable(context.Canceled))
	assert.True(t, IsRetryable(context.DeadlineExceeded))
	assert.False(t, IsRetryable(ErrInvalidTag))
	assert.True(t, IsRetryable(&TransportError{Err: errors.New("reset")}))
	assert.True(t, IsRetryable(&ResponseError{StatusCode: 429}))
	assert.False(t, IsRetryable(&ResponseError{StatusCode: 403}))
	assert.True(t, IsRetryable(&ResponseError{StatusCode: 403, RetryAfter: time.Second}))
	assert.True(t, IsRetryable(errors.Join(errors.New("x"), &ResponseError{StatusCode: 500})))
}

func TestDebugDumpRedactsSecret(t *testing.T) {
	const key = "TopSecretKeyValue1234567890abcdefghijKLMN="
	ws := newWireServer(t)
	ws.script(nhErr(429, map[string]string{"Retry-After": "1"}), nil)
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := NewClient(ws.URL, "hub", Key{"rule", key}, &ClientOptions{HTTPClient: ws.Client(), Debug: true, Logger: logger})
	require.NoError(t, err)
	c.sleep = func(context.Context, time.Duration) error { return nil }
	_, err = c.Send(context.Background(), NewAppleNotification([]byte(`{"aps":{"alert":"dbg"}}`), nil), &SendOptions{Tags: []string{"x"}})
	require.NoError(t, err)
	out := buf.String()
	assert.Contains(t, out, `"msg":"nhclient: request"`)
	assert.Contains(t, out, `"msg":"nhclient: response"`)
	assert.Contains(t, out, `"status":201`)
	assert.Contains(t, out, `"status":429`)
	assert.Contains(t, out, `sig=REDACTED`)
	assert.Contains(t, out, `{\"aps\":{\"alert\":\"dbg\"}}`)
	assert.NotContains(t, out, key)
	sig := strings.Split(strings.Split(ws.requests()[0].Header.Get("Authorization"), "sig=")[1], "&")[0]
	assert.NotContains(t, out, sig, "the signature never reaches a log")
}

func TestDebugFromEnvironment(t *testing.T) {
	t.Setenv("NH_DEBUG", "1")
	c, err := NewClient("https://ns", "h", Key{"k", "s"}, nil)
	require.NoError(t, err)
	assert.True(t, c.debug)
	t.Setenv("NH_DEBUG", "")
	c, err = NewClient("https://ns", "h", Key{"k", "s"}, nil)
	require.NoError(t, err)
	assert.False(t, c.debug)
}

// ownClient returns a client with its own transport (the default), made to
// trust the test server.
func ownClient(t *testing.T, ws *wireServer, opts *ClientOptions) *Client {
	c, err := NewClient(ws.URL, "hub", Key{"rule", "secret"}, opts)
	require.NoError(t, err)
	require.True(t, c.ownTransport)
	pool := x509.NewCertPool()
	pool.AddCert(ws.Certificate())
	c.httpClient.Transport.(*http.Transport).TLSClientConfig.RootCAs = pool
	c.sleep = func(context.Context, time.Duration) error { return nil }
	return c
}

func TestOwnTransportBoundsEachTry(t *testing.T) {
	ws := newWireServer(t)
	ws.script(
		func(w http.ResponseWriter) { time.Sleep(400 * time.Millisecond) }, // headers too late
		func(w http.ResponseWriter) { // headers, then a body that stalls
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(201)
			w.Write([]byte("<Notif"))
			w.(http.Flusher).Flush()
			time.Sleep(400 * time.Millisecond)
		},
		nil,
	)
	c := ownClient(t, ws, &ClientOptions{Retry: RetryOptions{TryTimeout: 100 * time.Millisecond}})
	start := time.Now()
	res, err := c.Send(context.Background(), NewAppleNotification([]byte(`{}`), nil), &SendOptions{Test: false})
	require.NoError(t, err, "both slow tries are cut and retried")
	assert.Equal(t, "n-1", res.NotificationID)
	assert.Len(t, ws.requests(), 3)
	assert.Less(t, time.Since(start), 700*time.Millisecond)
}

func TestCallersClientBoundedByContext(t *testing.T) {
	ws := newWireServer(t)
	ws.script(func(w http.ResponseWriter) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(201)
		w.(http.Flusher).Flush()
		time.Sleep(400 * time.Millisecond)
	}, nil)
	c := ws.client(t, &ClientOptions{Retry: RetryOptions{TryTimeout: 100 * time.Millisecond}})
	require.False(t, c.ownTransport)
	_, err := c.Send(context.Background(), NewAppleNotification([]byte(`{}`), nil), nil)
	require.NoError(t, err)
	assert.Len(t, ws.requests(), 2)
}

type countingSource struct {
	calls   int
	refused []*Key
	key     Key
	err     error
}

func (s *countingSource) Key(_ context.Context, refused *Key) (string, Key, error) {
	s.calls++
	s.refused = append(s.refused, refused)
	return "", s.key, s.err
}

func TestKeySourceRefreshedOnceOn401(t *testing.T) {
	ws := newWireServer(t)
	ws.script(nhErr(401, nil), nhErr(401, nil))
	c := ws.client(t, nil)
	src := &countingSource{key: Key{"rule", "rotated"}}
	c.keySource = src
	_, err := c.Send(context.Background(), NewAppleNotification([]byte(`{}`), nil), nil)
	var re *ResponseError
	require.True(t, errors.As(err, &re))
	assert.Equal(t, 401, re.StatusCode)
	assert.Equal(t, 1, src.calls, "one refresh, then the 401 is returned")
	assert.Equal(t, &Key{"rule", "secret"}, src.refused[0], "the source is told which key was refused")
	assert.Len(t, ws.requests(), 2)
	assert.NotEqual(t, ws.requests()[0].Header.Get("Authorization"), ws.requests()[1].Header.Get("Authorization"), "the retry is signed with the new key")

	src.err = errors.New("ARM is down")
	ws.script(nhErr(401, nil))
	_, err = c.Send(context.Background(), NewAppleNotification([]byte(`{}`), nil), nil)
	assert.ErrorContains(t, err, "refreshing the key after it was refused failed too: ARM is down")
}
