package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/nhpush/nhpush/handler"
	"github.com/nhpush/nhpush/handler/awslambda"
	"github.com/nhpush/nhpush/handler/azfunc"
	"github.com/nhpush/nhpush/nhclient"
	"github.com/nhpush/nhpush/nhclient/nhtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// retryLog collects the client's "retrying" records to read their delays.
type retryLog struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (l *retryLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *retryLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "nhclient: retrying" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "delay" {
			l.mu.Lock()
			l.delays = append(l.delays, a.Value.Duration())
			l.mu.Unlock()
		}
		return true
	})
	return nil
}
func (l *retryLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *retryLog) WithGroup(string) slog.Handler      { return l }

// stack is every front-end over one client and one emulator.
type stack struct {
	emu    *nhtest.Server
	client *nhclient.Client
	svc    *handler.Service
	api    *httptest.Server
	azure  *httptest.Server
	lambda *awslambda.Handler
	log    *retryLog
}

func newStack(t *testing.T) *stack {
	emu := nhtest.NewServer()
	t.Cleanup(emu.Close)
	rl := &retryLog{}
	logger := slog.New(rl)
	client, err := nhclient.NewClientFromConnectionString(emu.ConnectionString, emu.Hub, &nhclient.ClientOptions{
		HTTPClient: emu.Client(), Logger: logger,
		// Fast backoff and a short try timeout keep the matrix quick; the
		// delays asked for by Retry-After are honoured as they come.
		Retry: nhclient.RetryOptions{MaxRetries: 1, BaseDelay: 10 * time.Millisecond, MaxDelay: 3 * time.Second, TryTimeout: 300 * time.Millisecond},
	})
	require.NoError(t, err)
	svc := handler.NewService(client, logger)
	s := &stack{emu: emu, client: client, svc: svc, api: httptest.NewServer(svc.Handler()),
		azure: httptest.NewServer(azfunc.NewHandler(svc, logger)), lambda: awslambda.NewHandler(svc, logger, 4), log: rl}
	t.Cleanup(s.api.Close)
	t.Cleanup(s.azure.Close)
	return s
}

const sendBody = `{"platform":"apple","payload":{"aps":{"alert":"matrix"}},"tags":["sports"]}`

// outcome is what one front-end did with one failure.
type outcome struct {
	clientTries   int  // requests that reached NH for one nhclient send
	clientRetry   bool // nhclient.IsRetryable of the error
	httpStatus    int
	queueStatus   int  // the custom handler's answer to the host
	queueDead     bool // the message went to the deadletter binding
	sqsReported   bool // the record is in batchItemFailures
	retryDelaysOK func(t *testing.T, d []time.Duration)
}

func TestFaultMatrix(t *testing.T) {
	date := func() string { return time.Now().Add(1500 * time.Millisecond).UTC().Format(http.TimeFormat) }
	always := func(f nhtest.Fault) nhtest.Fault { f.Fraction = 1; return f }
	waits := func(want time.Duration) func(t *testing.T, d []time.Duration) {
		return func(t *testing.T, d []time.Duration) {
			require.NotEmpty(t, d)
			for _, x := range d {
				assert.InDelta(t, float64(want), float64(x), float64(time.Second), "Retry-After honoured: %v", d)
			}
		}
	}
	permanent := func(status int) outcome {
		return outcome{clientTries: 1, clientRetry: false, httpStatus: status, queueStatus: 200, queueDead: true, sqsReported: true}
	}
	transient := func(status int) outcome {
		return outcome{clientTries: 2, clientRetry: true, httpStatus: status, queueStatus: 500, queueDead: false, sqsReported: true}
	}
	tests := []struct {
		name  string
		fault func() nhtest.Fault
		want  outcome
	}{
		{"400", func() nhtest.Fault { return always(nhtest.Fault{Status: 400}) }, permanent(400)},
		{"401", func() nhtest.Fault { return always(nhtest.Fault{Status: 401}) },
			outcome{clientTries: 1, clientRetry: false, httpStatus: 401, queueStatus: 500, sqsReported: true}}, // a bad key: retried by the queue until fixed, then poison
		{"403", func() nhtest.Fault { return always(nhtest.Fault{Status: 403}) },
			outcome{clientTries: 1, clientRetry: false, httpStatus: 403, queueStatus: 500, sqsReported: true}},
		{"403 with Retry-After", func() nhtest.Fault { return always(nhtest.Fault{Status: 403, RetryAfter: "1"}) },
			func() outcome { o := transient(403); o.retryDelaysOK = waits(time.Second); return o }()},
		{"404", func() nhtest.Fault { return always(nhtest.Fault{Status: 404}) }, permanent(404)},
		{"408", func() nhtest.Fault { return always(nhtest.Fault{Status: 408}) }, transient(408)},
		{"413", func() nhtest.Fault { return always(nhtest.Fault{Status: 413}) }, permanent(413)},
		{"429 Retry-After seconds", func() nhtest.Fault { return always(nhtest.Fault{Status: 429, RetryAfter: "1"}) },
			func() outcome { o := transient(429); o.retryDelaysOK = waits(time.Second); return o }()},
		{"429 Retry-After date", func() nhtest.Fault { return always(nhtest.Fault{Status: 429, RetryAfter: date()}) },
			func() outcome {
				o := transient(429)
				o.retryDelaysOK = func(t *testing.T, d []time.Duration) {
					require.NotEmpty(t, d)
					assert.LessOrEqual(t, d[0], 1500*time.Millisecond)
					assert.Greater(t, d[0], 200*time.Millisecond)
				}
				return o
			}()},
		{"429 Retry-After beyond MaxDelay", func() nhtest.Fault { return always(nhtest.Fault{Status: 429, RetryAfter: "120"}) },
			outcome{clientTries: 1, clientRetry: true, httpStatus: 429, queueStatus: 500, sqsReported: true}},
		{"500", func() nhtest.Fault { return always(nhtest.Fault{Status: 500}) }, transient(500)},
		{"502", func() nhtest.Fault { return always(nhtest.Fault{Status: 502}) }, transient(502)},
		{"503", func() nhtest.Fault { return always(nhtest.Fault{Status: 503}) }, transient(503)},
		{"504", func() nhtest.Fault { return always(nhtest.Fault{Status: 504}) }, transient(504)},
		{"dropped connection", func() nhtest.Fault { return always(nhtest.Fault{Drop: true}) }, transient(502)},
		{"timeout", func() nhtest.Fault {
			return always(nhtest.Fault{Latency: nhtest.Duration(2 * time.Second), Status: 503})
		}, transient(504)},
		{"stalled body", func() nhtest.Fault { return always(nhtest.Fault{Stall: true}) }, transient(504)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStack(t)
			ctx := context.Background()
			var tries int
			countTries := func(run func()) int {
				before := s.emu.FaultsHit()
				run()
				return s.emu.FaultsHit() - before
			}

			// nhclient
			s.emu.InjectFault(tt.fault())
			var err error
			tries = countTries(func() {
				_, err = s.client.SendAppleNotification(ctx, []byte(`{"aps":{}}`), &nhclient.SendOptions{Tags: []string{"sports"}})
			})
			require.Error(t, err)
			assert.Equal(t, tt.want.clientTries, tries, "nhclient tries")
			assert.Equal(t, tt.want.clientRetry, nhclient.IsRetryable(err), "IsRetryable(%v)", err)
			var re *nhclient.ResponseError
			var te *nhclient.TransportError
			assert.True(t, errors.As(err, &re) || errors.As(err, &te), "a typed error: %T %v", err, err)
			if tt.want.retryDelaysOK != nil {
				s.log.mu.Lock()
				d := append([]time.Duration(nil), s.log.delays...)
				s.log.mu.Unlock()
				tt.want.retryDelaysOK(t, d)
			}

			// HTTP API
			resp, err := http.Post(s.api.URL+"/api/notifications", "application/json", strings.NewReader(sendBody))
			require.NoError(t, err)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, tt.want.httpStatus, resp.StatusCode, "HTTP API: %s", b)
			assert.Contains(t, string(b), `"code":"nh_`)

			// Azure queue function
			inv, _ := json.Marshal(map[string]any{"Data": map[string]string{"message": sendBody}, "Metadata": map[string]any{"DequeueCount": 1, "Id": "q-1"}})
			resp, err = http.Post(s.azure.URL+"/notifications-queue", "application/json", bytes.NewReader(inv))
			require.NoError(t, err)
			b, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, tt.want.queueStatus, resp.StatusCode, "queue function: %s", b)
			var ir struct{ Outputs map[string]json.RawMessage }
			require.NoError(t, json.Unmarshal(b, &ir))
			_, dead := ir.Outputs["deadletter"]
			assert.Equal(t, tt.want.queueDead, dead, "dead-lettered")

			// SQS handler
			sqs, err := s.lambda.HandleSQS(ctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: "r-1", Body: sendBody, EventSource: "aws:sqs"}}})
			require.NoError(t, err)
			assert.Equal(t, tt.want.sqsReported, len(sqs.BatchItemFailures) == 1, "SQS reports the record")

			assert.Empty(t, s.emu.Notifications(), "nothing got through a persistent fault")
		})
	}
}

// TestTransientFaultsAbsorbed: a single failure of each retryable kind is
// absorbed by the client's retry, on every front-end, and the notification
// is sent exactly once.
func TestTransientFaultsAbsorbed(t *testing.T) {
	faults := map[string]nhtest.Fault{
		"403 with Retry-After": {Status: 403, RetryAfter: "1"}, "408": {Status: 408}, "429": {Status: 429, RetryAfter: "0"},
		"500": {Status: 500}, "502": {Status: 502}, "503": {Status: 503}, "504": {Status: 504}, "drop": {Drop: true}, "stall": {Stall: true},
	}
	for name, f := range faults {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newStack(t)
			s.emu.InjectFault(f)
			resp, err := http.Post(s.api.URL+"/api/notifications", "application/json", strings.NewReader(sendBody))
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, 201, resp.StatusCode)

			s.emu.InjectFault(f)
			inv, _ := json.Marshal(map[string]any{"Data": map[string]string{"message": sendBody}, "Metadata": map[string]any{}})
			resp, err = http.Post(s.azure.URL+"/notifications-queue", "application/json", bytes.NewReader(inv))
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, 200, resp.StatusCode)

			s.emu.InjectFault(f)
			sqs, _ := s.lambda.HandleSQS(context.Background(), events.SQSEvent{Records: []events.SQSMessage{{MessageId: "r", Body: sendBody}}})
			assert.Empty(t, sqs.BatchItemFailures)
			assert.Len(t, s.emu.Notifications(), 3, "each sent once")
		})
	}
}
