package handler

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Handler returns the HTTP API of DESIGN.md:
//
//	POST   /api/notifications          send (201 sent, 202 scheduled)
//	PUT    /api/installations/{id}     create or replace an installation
//	GET    /api/installations/{id}     read it
//	PATCH  /api/installations/{id}     JSON Patch it
//	DELETE /api/installations/{id}     delete it
//
// Errors are {"error":{"code","message","field","trackingId"}}; bad input
// is a 4xx that names the field.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/notifications", s.serveSend)
	mux.HandleFunc("PUT /api/installations/{id}", s.serveInstallation)
	mux.HandleFunc("GET /api/installations/{id}", s.serveInstallation)
	mux.HandleFunc("PATCH /api/installations/{id}", s.serveInstallation)
	mux.HandleFunc("DELETE /api/installations/{id}", s.serveInstallation)
	mux.HandleFunc("/api/notifications", methodNotAllowed("POST"))
	mux.HandleFunc("/api/installations/{id}", methodNotAllowed("PUT, GET, PATCH, DELETE"))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, &Error{Status: 404, Code: "not_found", Message: "no route " + r.Method + " " + r.URL.Path + "; see POST /api/notifications and /api/installations/{id}"})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hasDotSegment(r.URL.Path) {
			// Refused outright rather than cleaned and redirected: an id
			// such as ".." must never become another path.
			WriteError(w, &Error{Status: 400, Code: "invalid_path", Field: "id", Message: "the path has a . or .. segment: " + r.URL.Path})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// hasDotSegment reports whether a path has a "." or ".." segment.
func hasDotSegment(p string) bool {
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		WriteError(w, &Error{Status: 405, Code: "method_not_allowed", Message: r.Method + " is not allowed here; use " + allow})
	}
}

// checkContentType refuses a body that is not of an allowed media type (no
// Content-Type at all is taken as JSON).
func checkContentType(ct string, allowed ...string) *Error {
	if ct == "" {
		return nil
	}
	for _, a := range allowed { // the common exact forms, without parsing
		if ct == a || (strings.HasPrefix(ct, a) && ct[len(a)] == ';' && strings.EqualFold(strings.TrimSpace(ct[len(a)+1:]), "charset=utf-8")) {
			return nil
		}
	}
	mt, _, err := mime.ParseMediaType(ct)
	for _, a := range allowed {
		if err == nil && mt == a {
			return nil
		}
	}
	return &Error{Status: 415, Code: "unsupported_media_type", Field: "Content-Type", Message: fmt.Sprintf("Content-Type %q is not supported; send %s", ct, strings.Join(allowed, " or "))}
}

// readJSONBody checks the content type and the size, and reads the body.
func readJSONBody(r *http.Request, allowed ...string) ([]byte, *Error) {
	if e := checkContentType(r.Header.Get("Content-Type"), allowed...); e != nil {
		return nil, e
	}
	if r.ContentLength > MaxBodyBytes {
		return nil, &Error{Status: 413, Code: "body_too_large", Message: fmt.Sprintf("the body is %d bytes, over the limit of %d", r.ContentLength, MaxBodyBytes)}
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, &Error{Status: 400, Code: "invalid_body", Message: "could not read the body: " + err.Error()}
	}
	if len(b) > MaxBodyBytes {
		return nil, &Error{Status: 413, Code: "body_too_large", Message: fmt.Sprintf("the body is over the limit of %d bytes", MaxBodyBytes)}
	}
	return b, nil
}

// Reply is an answer of the API as data, for adapters that do not go
// through net/http: a status, Retry-After when NH asked for one, and a JSON
// body.
type Reply struct {
	Status     int
	RetryAfter string
	Body       []byte
}

// Write writes the reply to w.
func (r Reply) Write(w http.ResponseWriter) {
	if r.RetryAfter != "" {
		w.Header().Set("Retry-After", r.RetryAfter)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(r.Status)
	w.Write(r.Body)
}

// SendJSON serves one send request as POST /api/notifications does, from
// its Content-Type and body: 201 or 202 with the SendResponse, or the error.
func (s *Service) SendJSON(ctx context.Context, contentType string, body []byte) Reply {
	if e := checkContentType(contentType, "application/json"); e != nil {
		return errorReply(e)
	}
	req, err := DecodeSendRequest(body)
	if err != nil {
		return errorReply(fromClientError(err))
	}
	res, err := s.Send(ctx, req)
	if err != nil {
		s.logFailure(http.MethodPost, "/api/notifications", err)
		return errorReply(fromClientError(err))
	}
	return jsonReply(res.Status(), res)
}

func (s *Service) serveSend(w http.ResponseWriter, r *http.Request) {
	body, e := readJSONBody(r, "application/json")
	if e != nil {
		WriteError(w, e)
		return
	}
	s.SendJSON(r.Context(), r.Header.Get("Content-Type"), body).Write(w)
}

func (s *Service) serveInstallation(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var err error
	switch r.Method {
	case http.MethodPut:
		body, e := readJSONBody(r, "application/json")
		if e != nil {
			WriteError(w, e)
			return
		}
		if err = s.PutInstallation(r.Context(), id, body); err == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
	case http.MethodPatch:
		body, e := readJSONBody(r, "application/json-patch+json", "application/json")
		if e != nil {
			WriteError(w, e)
			return
		}
		if err = s.PatchInstallation(r.Context(), id, body); err == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
	case http.MethodGet:
		var inst any
		if inst, err = s.GetInstallation(r.Context(), id); err == nil {
			writeJSON(w, http.StatusOK, inst)
			return
		}
	case http.MethodDelete:
		if err = s.DeleteInstallation(r.Context(), id); err == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	s.logFailure(r.Method, r.URL.Path, err)
	WriteError(w, fromClientError(err))
}

func (s *Service) logFailure(method, path string, err error) {
	e := fromClientError(err)
	level := s.log.Warn
	if e.Status >= 500 {
		level = s.log.Error
	}
	level("request failed", "method", method, "path", path, "status", e.Status, "code", e.Code, "error", e.Message, "trackingId", e.TrackingID)
}

// WriteError writes e as {"error": {...}} with its status, and Retry-After
// when NH asked for one.
func WriteError(w http.ResponseWriter, e *Error) { errorReply(e).Write(w) }

func writeJSON(w http.ResponseWriter, status int, v any) { jsonReply(status, v).Write(w) }

// errorReply is e as {"error": {...}}, with Retry-After in whole seconds.
func errorReply(e *Error) Reply {
	status := e.Status
	if status == 0 {
		status = 500
	}
	r := jsonReply(status, struct {
		Error *Error `json:"error"`
	}{e})
	if e.RetryAfter > 0 {
		r.RetryAfter = strconv.Itoa(int((e.RetryAfter + time.Second - 1) / time.Second))
	}
	return r
}

func jsonReply(status int, v any) Reply {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = 500, []byte(`{"error":{"code":"internal","message":"could not encode the answer"}}`)
	}
	return Reply{Status: status, Body: append(b, '\n')}
}
