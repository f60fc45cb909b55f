package handler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
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
	return mux
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		WriteError(w, &Error{Status: 405, Code: "method_not_allowed", Message: r.Method + " is not allowed here; use " + allow})
	}
}

// readJSONBody checks the content type and the size, and reads the body.
func readJSONBody(w http.ResponseWriter, r *http.Request, allowed ...string) ([]byte, *Error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		ok := false
		for _, a := range allowed {
			ok = ok || (err == nil && mt == a)
		}
		if !ok {
			return nil, &Error{Status: 415, Code: "unsupported_media_type", Field: "Content-Type", Message: fmt.Sprintf("Content-Type %q is not supported; send %s", ct, strings.Join(allowed, " or "))}
		}
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

func (s *Service) serveSend(w http.ResponseWriter, r *http.Request) {
	body, e := readJSONBody(w, r, "application/json")
	if e != nil {
		WriteError(w, e)
		return
	}
	req, err := DecodeSendRequest(body)
	if err != nil {
		WriteError(w, asError(err))
		return
	}
	res, err := s.Send(r.Context(), req)
	if err != nil {
		s.logFailure(r, err)
		WriteError(w, asError(err))
		return
	}
	writeJSON(w, res.Status(), res)
}

func (s *Service) serveInstallation(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var err error
	switch r.Method {
	case http.MethodPut:
		body, e := readJSONBody(w, r, "application/json")
		if e != nil {
			WriteError(w, e)
			return
		}
		if err = s.PutInstallation(r.Context(), id, body); err == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
	case http.MethodPatch:
		body, e := readJSONBody(w, r, "application/json-patch+json", "application/json")
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
	s.logFailure(r, err)
	WriteError(w, asError(err))
}

func (s *Service) logFailure(r *http.Request, err error) {
	e := asError(err)
	level := s.log.Warn
	if e.Status >= 500 {
		level = s.log.Error
	}
	level("request failed", "method", r.Method, "path", r.URL.Path, "status", e.Status, "code", e.Code, "error", e.Message, "trackingId", e.TrackingID)
}

// WriteError writes e as {"error": {...}} with its status, and Retry-After
// when NH asked for one.
func WriteError(w http.ResponseWriter, e *Error) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+999_999_999)/1_000_000_000)))
	}
	status := e.Status
	if status == 0 {
		status = 500
	}
	writeJSON(w, status, struct {
		Error *Error `json:"error"`
	}{e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = 500, []byte(`{"error":{"code":"internal","message":"could not encode the answer"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
