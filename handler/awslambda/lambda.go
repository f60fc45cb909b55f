// Package awslambda adapts AWS Lambda events to nhpush's shared handler:
// HTTP events of a function URL or an API Gateway HTTP API (payload format
// 2.0) are served by the same http.Handler as on Azure, and SQS batches are
// processed concurrently with a bound, answering the records that failed
// so that only those come back (ReportBatchItemFailures).
package awslambda

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/nhpush/nhpush/handler"
)

// DefaultConcurrency bounds how many records of an SQS batch are sent at once.
const DefaultConcurrency = 8

// Handler serves Lambda events through one handler.Service.
type Handler struct {
	api         http.Handler
	log         *slog.Logger
	concurrency int
	// process handles one message body (the Service's ProcessMessage).
	process func(context.Context, []byte) handler.MessageResult
	// send serves POST /api/notifications without the net/http plumbing
	// (the Service's SendJSON): the hot path of the HTTP function.
	send func(ctx context.Context, contentType string, body []byte) handler.Reply
}

// NewHandler returns a Handler over svc. concurrency bounds the records of
// an SQS batch processed at once (0: DefaultConcurrency).
func NewHandler(svc *handler.Service, logger *slog.Logger, concurrency int) *Handler {
	if logger == nil {
		logger = slog.Default()
	}
	if concurrency <= 0 {
		concurrency = DefaultConcurrency
	}
	return &Handler{api: svc.Handler(), log: logger, concurrency: concurrency, process: svc.ProcessMessage, send: svc.SendJSON}
}

// ErrUnsupportedEvent is returned for an event that is neither an HTTP
// (payload 2.0) nor an SQS event.
var ErrUnsupportedEvent = errors.New("awslambda: unsupported event: expected an SQS event or an HTTP API / function URL event (payload format 2.0)")

// Invoke serves a raw Lambda event of either kind; it is what the bootstrap
// passes to lambda.Start, so that one binary serves both functions.
func (h *Handler) Invoke(ctx context.Context, event json.RawMessage) (any, error) {
	var probe struct {
		Records []struct {
			EventSource string `json:"eventSource"`
		} `json:"Records"`
		RequestContext struct {
			HTTP struct {
				Method string `json:"method"`
			} `json:"http"`
		} `json:"requestContext"`
	}
	if err := json.Unmarshal(event, &probe); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedEvent, err)
	}
	switch {
	case len(probe.Records) > 0 && probe.Records[0].EventSource == "aws:sqs":
		var e events.SQSEvent
		if err := json.Unmarshal(event, &e); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnsupportedEvent, err)
		}
		return h.HandleSQS(ctx, e)
	case probe.RequestContext.HTTP.Method != "":
		var e events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(event, &e); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnsupportedEvent, err)
		}
		return h.HandleHTTP(ctx, e)
	}
	return nil, ErrUnsupportedEvent
}

// HandleHTTP serves an API Gateway HTTP API or function URL event (payload
// format 2.0) with the shared http.Handler: Base64 bodies decoded, a named
// stage's path prefix removed, cookies passed as a Cookie header, and the
// answer's status, headers and body returned.
func (h *Handler) HandleHTTP(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	body := []byte(e.Body)
	if e.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(e.Body)
		if err != nil {
			return jsonError(400, "invalid_body", "the body is marked Base64 but is not"), nil
		}
		body = b
	}
	path := e.RawPath
	if path == "" {
		path = e.RequestContext.HTTP.Path
	}
	if st := e.RequestContext.Stage; st != "" && st != "$default" {
		path = strings.TrimPrefix(path, "/"+st)
	}
	method := e.RequestContext.HTTP.Method
	if method == http.MethodPost && path == "/api/notifications" {
		if len(body) > handler.MaxBodyBytes {
			return jsonError(413, "body_too_large", fmt.Sprintf("the body is %d bytes, over the limit of %d", len(body), handler.MaxBodyBytes)), nil
		}
		r := h.send(ctx, eventHeader(e.Headers, "Content-Type"), body)
		resp := events.APIGatewayV2HTTPResponse{StatusCode: r.Status, Headers: map[string]string{"Content-Type": "application/json; charset=utf-8"}, Body: string(r.Body)}
		if r.RetryAfter != "" {
			resp.Headers["Retry-After"] = r.RetryAfter
		}
		return resp, nil
	}
	target := path
	if e.RawQueryString != "" {
		target += "?" + e.RawQueryString
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://lambda"+target, bytes.NewReader(body))
	if err != nil {
		return jsonError(400, "invalid_request", "the request line is not valid: "+err.Error()), nil
	}
	for k, v := range e.Headers {
		req.Header.Set(k, v)
	}
	if len(e.Cookies) > 0 {
		req.Header.Set("Cookie", strings.Join(e.Cookies, "; "))
	}
	req.ContentLength = int64(len(body))
	req.RemoteAddr = e.RequestContext.HTTP.SourceIP
	rec := httptest.NewRecorder()
	h.api.ServeHTTP(rec, req)
	resp := events.APIGatewayV2HTTPResponse{StatusCode: rec.Code, Headers: map[string]string{}}
	for k, vs := range rec.Header() {
		if strings.EqualFold(k, "Set-Cookie") {
			resp.Cookies = append(resp.Cookies, vs...)
			continue
		}
		resp.Headers[k] = strings.Join(vs, ",")
	}
	if b := rec.Body.Bytes(); utf8.Valid(b) {
		resp.Body = string(b)
	} else {
		resp.Body, resp.IsBase64Encoded = base64.StdEncoding.EncodeToString(b), true
	}
	return resp, nil
}

// eventHeader looks a header up in an event's headers, whose names API
// Gateway lowercases.
func eventHeader(h map[string]string, name string) string {
	if v, ok := h[strings.ToLower(name)]; ok {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func jsonError(status int, code, msg string) events.APIGatewayV2HTTPResponse {
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": msg}})
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: map[string]string{"Content-Type": "application/json; charset=utf-8"}, Body: string(b)}
}

// HandleSQS processes the records of a batch, at most the handler's
// concurrency at once, and answers the ones that failed: a record that may
// succeed later comes back; one that never can is logged with its reason
// and reported too, so that the queue's redrive policy moves it to the
// dead-letter queue. A panic fails its record, not the batch.
func (h *Handler) HandleSQS(ctx context.Context, e events.SQSEvent) (events.SQSEventResponse, error) {
	failed := make([]bool, len(e.Records))
	sem := make(chan struct{}, h.concurrency)
	var wg sync.WaitGroup
	for i := range e.Records {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			failed[i] = !h.processRecord(ctx, &e.Records[i])
		})
	}
	wg.Wait()
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	for i, f := range failed {
		if f {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: e.Records[i].MessageId})
		}
	}
	return resp, nil
}

// processRecord sends one record; false when it failed.
func (h *Handler) processRecord(ctx context.Context, m *events.SQSMessage) (ok bool) {
	attrs := []any{"messageId", m.MessageId, "receiveCount", m.Attributes["ApproximateReceiveCount"]}
	defer func() {
		if p := recover(); p != nil {
			h.log.Error("sqs record panicked; reported failed", append(attrs, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))...)
			ok = false
		}
	}()
	res := h.process(ctx, []byte(m.Body))
	switch res.Disposition {
	case handler.Done:
		h.log.Info("sqs record sent", append(attrs, "notificationId", res.Response.NotificationID, "kind", res.Response.Kind)...)
		return true
	case handler.DeadLetter:
		h.log.Error("sqs record can never succeed; reported failed for the dead-letter queue",
			append(attrs, "code", res.Err.Code, "reason", res.Err.Message, "field", res.Err.Field)...)
	default:
		h.log.Warn("sqs record failed and will come back",
			append(attrs, "code", res.Err.Code, "reason", res.Err.Message, "trackingId", res.Err.TrackingID)...)
	}
	return false
}
