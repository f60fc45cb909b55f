package azfunc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/nhpush/nhpush/handler"
)

// Names of the functions and bindings, as in the function.json files.
const (
	QueueFunction     = "notifications-queue"
	QueueBinding      = "message"
	DeadLetterBinding = "deadletter"
	HTTPBinding       = "req"
	HTTPOutBinding    = "res"
)

// maxInvocation bounds an invocation payload: the message (64 KB, Base64
// or escaped) and its metadata.
const maxInvocation = 512 << 10

// Handler serves the custom handler:
//
//	/api/...                     HTTP functions proxied raw (enableProxyingHttpRequest)
//	POST /notifications-queue    the queue function's invocations
//	POST /notifications, POST /installations
//	                             HTTP functions as invocation payloads, for hosts that do not proxy
type Handler struct {
	svc *handler.Service
	log *slog.Logger
	api http.Handler
	now func() time.Time
}

// NewHandler returns the custom handler over svc.
func NewHandler(svc *handler.Service, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return &Handler{svc: svc, log: logger, api: svc.Handler(), now: time.Now}
}

// ServeHTTP routes the host's requests.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/api/"):
		h.api.ServeHTTP(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/"+QueueFunction:
		h.serveQueue(w, r)
	case r.Method == http.MethodPost && (r.URL.Path == "/notifications" || r.URL.Path == "/installations"):
		h.serveHTTPInvocation(w, r)
	default:
		handler.WriteError(w, &handler.Error{Status: 404, Code: "not_found", Message: "no function at " + r.Method + " " + r.URL.Path})
	}
}

func readInvocation(r *http.Request) (*InvokeRequest, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxInvocation+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading: %v", ErrMalformedInvocation, err)
	}
	if len(body) > maxInvocation {
		return nil, fmt.Errorf("%w: over %d bytes", ErrMalformedInvocation, maxInvocation)
	}
	return DecodeInvokeRequest(body)
}

func writeInvokeResponse(w http.ResponseWriter, status int, resp InvokeResponse) {
	if resp.Outputs == nil {
		resp.Outputs = map[string]any{}
	}
	if resp.Logs == nil {
		resp.Logs = []string{}
	}
	b, _ := json.Marshal(resp)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// serveQueue processes one queue message. Sent: 200. Can never succeed:
// 200 with the message and its reason in the deadletter output. May succeed
// later: 500, so the host makes the message visible again and, after
// maxDequeueCount tries, moves it to the poison queue.
func (h *Handler) serveQueue(w http.ResponseWriter, r *http.Request) {
	inv, err := readInvocation(r)
	var msg []byte
	if err == nil {
		msg, err = inv.Message(QueueBinding)
	}
	if err != nil {
		// Not a message the host could have sent: fail the invocation so
		// that the host retries it and finally parks it in the poison queue.
		h.log.Error("queue invocation rejected", "error", err.Error())
		writeInvokeResponse(w, http.StatusBadRequest, InvokeResponse{Logs: []string{"invalid invocation: " + err.Error()}})
		return
	}
	id, count := inv.MetadataString("Id"), inv.DequeueCount()
	res := h.svc.ProcessMessage(r.Context(), msg)
	switch res.Disposition {
	case handler.Done:
		line := fmt.Sprintf("sent message %s as %s notification %s (tracking %s)", id, res.Response.Kind, res.Response.NotificationID, res.Response.TrackingID)
		h.log.Info("queue message sent", "messageId", id, "dequeueCount", count, "notificationId", res.Response.NotificationID)
		writeInvokeResponse(w, http.StatusOK, InvokeResponse{Logs: []string{line}})
	case handler.DeadLetter:
		rec := handler.NewDeadLetterRecord(res.Err, msg, id, count, h.now())
		h.log.Warn("queue message dead-lettered", "messageId", id, "dequeueCount", count, "code", res.Err.Code, "reason", res.Err.Message)
		writeInvokeResponse(w, http.StatusOK, InvokeResponse{
			Outputs: map[string]any{DeadLetterBinding: rec},
			Logs:    []string{fmt.Sprintf("dead-lettered message %s: %s: %s", id, res.Err.Code, res.Err.Message)},
		})
	default:
		h.log.Warn("queue message will be retried", "messageId", id, "dequeueCount", count, "code", res.Err.Code, "reason", res.Err.Message, "trackingId", res.Err.TrackingID)
		writeInvokeResponse(w, http.StatusInternalServerError, InvokeResponse{
			Logs: []string{fmt.Sprintf("message %s failed on try %d and will be retried: %s: %s", id, count, res.Err.Code, res.Err.Message)},
		})
	}
}

// serveHTTPInvocation serves an HTTP trigger that came as an invocation
// payload: it replays Data.req against the /api routes and answers the
// result in the res output binding.
func (h *Handler) serveHTTPInvocation(w http.ResponseWriter, r *http.Request) {
	inv, err := readInvocation(r)
	var data HTTPRequestData
	if err == nil {
		raw, ok := inv.Data[HTTPBinding]
		if !ok {
			err = fmt.Errorf("%w: Data has no %q", ErrMalformedInvocation, HTTPBinding)
		} else if e := json.Unmarshal(raw, &data); e != nil {
			err = fmt.Errorf("%w: Data.%s: %v", ErrMalformedInvocation, HTTPBinding, e)
		}
	}
	if err != nil {
		writeInvokeResponse(w, http.StatusBadRequest, InvokeResponse{Logs: []string{"invalid invocation: " + err.Error()}})
		return
	}
	path := "/api/notifications"
	if r.URL.Path == "/installations" {
		path = "/api/installations/" + url.PathEscape(data.Params["id"])
	} else if u, err := url.Parse(data.URL); err == nil && u.Path != "" {
		path = u.Path
	}
	method := data.Method
	if method == "" {
		method = http.MethodPost
	}
	req := httptest.NewRequestWithContext(r.Context(), method, path, strings.NewReader(string(data.BodyBytes())))
	for k, vs := range data.Headers {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	rec := httptest.NewRecorder()
	h.api.ServeHTTP(rec, req)
	headers := map[string]string{}
	for k := range rec.Header() {
		headers[k] = rec.Header().Get(k)
	}
	writeInvokeResponse(w, http.StatusOK, InvokeResponse{Outputs: map[string]any{
		HTTPOutBinding: map[string]any{"statusCode": rec.Code, "headers": headers, "body": rec.Body.String()},
	}})
}

// Serve runs h on addr until ctx ends, then shuts down gracefully, giving
// requests in flight up to grace to finish.
func Serve(ctx context.Context, addr string, h http.Handler, grace time.Duration, ready func(addr string)) error {
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	return srv.Shutdown(sctx)
}
