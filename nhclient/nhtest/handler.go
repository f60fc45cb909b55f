package nhtest

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxBody is the service's request limit; larger bodies answer 413.
const maxBody = 64 * 1024

// ControlPrefix is the path of the emulator's control API.
const ControlPrefix = "/_emulator/"

// Handler returns the emulator's HTTP handler (NH routes and the control
// API), for serving it on a listener of your own.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, ControlPrefix) {
		s.serveControl(w, r)
		return
	}
	if f, ok := s.faults.pick(r); ok && s.inject(w, r, f) {
		return
	}
	switch {
	case r.URL.Path == "/msi/token":
		s.serveIdentityToken(w, r)
		return
	case strings.HasPrefix(r.URL.Path, "/subscriptions/"):
		s.serveListKeys(w, r)
		return
	}
	hub, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if hub == "" || !s.state.hasHub(hub) {
		nhError(w, http.StatusNotFound, "The requested resource "+r.URL.Path+" does not exist (no such hub)")
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		nhError(w, http.StatusBadRequest, "The api-version query parameter is missing")
		return
	}
	rule, aerr := verifySAS(r, s.state.rulesCopy(), s.opts.Now())
	if aerr != nil {
		nhError(w, aerr.status, aerr.detail)
		return
	}
	seg := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	switch {
	case seg[0] == "messages" && len(seg) == 1 && r.Method == http.MethodPost:
		s.need(w, r, rule, RightSend, func() { s.send(w, r, hub) })
	case seg[0] == "messages" && len(seg) == 2 && seg[1] == "$batch" && r.Method == http.MethodPost:
		s.need(w, r, rule, RightSend, func() { s.batch(w, r, hub) })
	case seg[0] == "messages" && len(seg) == 2 && r.Method == http.MethodGet:
		s.need(w, r, rule, RightSend, func() { s.details(w, hub, seg[1]) })
	case seg[0] == "schedulednotifications" && len(seg) == 1 && r.Method == http.MethodPost:
		s.need(w, r, rule, RightSend, func() { s.schedule(w, r, hub) })
	case seg[0] == "schedulednotifications" && len(seg) == 2 && r.Method == http.MethodDelete:
		s.need(w, r, rule, RightSend, func() { s.cancelScheduled(w, hub, seg[1]) })
	case seg[0] == "installations" && len(seg) == 2 && seg[1] != "":
		s.need(w, r, rule, RightListen, func() { s.installationRoute(w, r, hub, seg[1]) })
	default:
		nhError(w, http.StatusNotFound, fmt.Sprintf("No route for %s %s", r.Method, r.URL.Path))
	}
}

func (s *Server) need(w http.ResponseWriter, r *http.Request, rule Rule, right string, next func()) {
	if !rule.has(right) {
		nhError(w, http.StatusUnauthorized, fmt.Sprintf("Unauthorized: the rule %s lacks the %s right for %s %s", rule.Name, right, r.Method, r.URL.Path))
		return
	}
	next()
}

// inject serves fault f; false when f only delays and the request goes on.
func (s *Server) inject(w http.ResponseWriter, r *http.Request, f Fault) bool {
	if f.Latency > 0 {
		select {
		case <-time.After(time.Duration(f.Latency)):
		case <-r.Context().Done():
			return true
		}
	}
	switch {
	case f.Drop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler) // HTTP/2: reset the stream
	case f.Stall:
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte("<NotificationOutcome>"))
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		<-r.Context().Done()
		return true
	case f.Status != 0:
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		nhError(w, f.Status, "Injected fault")
		return true
	}
	return false
}

// nhError answers the service's XML error body with a TrackingId.
func nhError(w http.ResponseWriter, status int, detail string) {
	tid := newID()
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.Header().Set("TrackingId", tid)
	w.WriteHeader(status)
	var b bytes.Buffer
	b.WriteString("<Error><Code>")
	b.WriteString(strconv.Itoa(status))
	b.WriteString("</Code><Detail>")
	xml.EscapeText(&b, []byte(detail+". TrackingId:"+tid+",TimeStamp:"+time.Now().UTC().Format(time.RFC3339)))
	b.WriteString("</Detail></Error>")
	w.Write(b.Bytes())
}

// readBody reads at most maxBody bytes; false (after answering 413) when
// the body is larger.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.ContentLength > maxBody {
		nhError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("The request body is %d bytes, over the limit of %d", r.ContentLength, maxBody))
		return nil, false
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		nhError(w, http.StatusBadRequest, "Could not read the request body")
		return nil, false
	}
	if len(b) > maxBody {
		nhError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("The request body is over the limit of %d bytes", maxBody))
		return nil, false
	}
	return b, true
}

// platformHeaders are the request headers passed to the PNS.
func platformHeaders(h http.Header) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "apns-") || strings.HasPrefix(lk, "x-wns-") || lk == "x-windowsphone-target" || lk == "x-notificationclass" {
			out[k] = strings.Join(v, ",")
		}
	}
	return out
}

var formats = map[string]bool{"apple": true, "fcmv1": true, "gcm": true, "windows": true, "windowsphone": true,
	"adm": true, "baidu": true, "xiaomi": true, "browser": true, "template": true}

// checkNotification validates format, content type, body and WNS headers
// as the service does; it returns the format or answers 400.
func checkNotification(w http.ResponseWriter, h http.Header, ctype string, body []byte) (string, bool) {
	format := h.Get("ServiceBusNotification-Format")
	if !formats[format] {
		nhError(w, http.StatusBadRequest, fmt.Sprintf("The ServiceBusNotification-Format header %q is missing or invalid", format))
		return "", false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		nhError(w, http.StatusBadRequest, "The notification body is empty")
		return "", false
	}
	mt, _, _ := mime.ParseMediaType(ctype)
	wnsType := strings.ToLower(h.Get("X-WNS-Type"))
	switch format {
	case "windows":
		switch wnsType {
		case "wns/raw":
			if mt != "application/octet-stream" {
				nhError(w, http.StatusBadRequest, "A wns/raw notification must be sent as application/octet-stream")
				return "", false
			}
			return format, true
		case "wns/toast", "wns/tile", "wns/badge":
		default:
			nhError(w, http.StatusBadRequest, "The X-WNS-Type header is missing or invalid for a windows notification")
			return "", false
		}
		fallthrough
	case "windowsphone":
		if mt != "application/xml" && mt != "text/xml" {
			nhError(w, http.StatusBadRequest, fmt.Sprintf("Content-Type %q is not valid for %s; expected application/xml", ctype, format))
			return "", false
		}
		if !wellFormed(body) {
			nhError(w, http.StatusBadRequest, "The notification body is not well-formed XML")
			return "", false
		}
	default:
		if mt != "application/json" {
			nhError(w, http.StatusBadRequest, fmt.Sprintf("Content-Type %q is not valid for %s; expected application/json", ctype, format))
			return "", false
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(body, &obj); err != nil {
			nhError(w, http.StatusBadRequest, "The notification body is not a JSON object: "+err.Error())
			return "", false
		}
		if format == "fcmv1" {
			if _, ok := obj["message"]; !ok || len(obj) != 1 {
				nhError(w, http.StatusBadRequest, `An fcmv1 notification must be of the form {"message": {...}}`)
				return "", false
			}
		}
	}
	return format, true
}

func wellFormed(b []byte) bool {
	d := xml.NewDecoder(bytes.NewReader(b))
	roots, depth := 0, 0
	for {
		t, err := d.Token()
		if err == io.EOF {
			return roots == 1 && depth == 0
		}
		if err != nil {
			return false
		}
		switch t.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
}

// accepted answers 201 as the service does for a send, with a Location
// holding the notification id.
func (s *Server) accepted(w http.ResponseWriter, r *http.Request, hub, id string, body []byte) {
	w.Header().Set("Location", "https://"+r.Host+"/"+hub+"/messages/"+id+"?api-version=2020-06")
	w.Header().Set("TrackingId", newID())
	w.Header().Set("x-ms-correlation-request-id", newID())
	if body != nil {
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	}
	w.WriteHeader(http.StatusCreated)
	w.Write(body)
}

func (s *Server) newNotification(r *http.Request, hub, kind, format string, body []byte) Notification {
	return Notification{ID: newID(), Hub: hub, Kind: kind, Format: format, ContentType: r.Header.Get("Content-Type"),
		Headers: platformHeaders(r.Header), Tags: r.Header.Get("ServiceBusNotification-Tags"), Body: string(body), Received: time.Now().UTC()}
}

func (s *Server) send(w http.ResponseWriter, r *http.Request, hub string) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	format, ok := checkNotification(w, r.Header, r.Header.Get("Content-Type"), body)
	if !ok {
		return
	}
	q := r.URL.Query()
	if isSet(q, "direct") {
		handle := r.Header.Get("ServiceBusNotification-DeviceHandle")
		if handle == "" {
			nhError(w, http.StatusBadRequest, "A direct send needs the ServiceBusNotification-DeviceHandle header")
			return
		}
		n := s.newNotification(r, hub, "direct", format, body)
		n.DeviceHandles = []string{handle}
		n.Deliveries = []Delivery{{Platform: installationPlatform[format], PushChannel: handle, Payload: string(body)}}
		s.state.record(n)
		s.accepted(w, r, hub, n.ID, nil)
		return
	}
	audience, err := parseTagExpr(r.Header.Get("ServiceBusNotification-Tags"))
	if err != nil {
		nhError(w, http.StatusBadRequest, "Invalid ServiceBusNotification-Tags: "+err.Error())
		return
	}
	n := s.newNotification(r, hub, "send", format, body)
	n.Deliveries = s.state.deliveries(hub, format, body, audience)
	var outcome []byte
	if isSet(q, "test") {
		n.Kind = "test"
		outcome = notificationOutcome(n.Deliveries)
	}
	s.state.record(n)
	s.accepted(w, r, hub, n.ID, outcome)
}

// isSet reports whether a flag such as "direct" or "test" is in the query,
// bare or as =true.
func isSet(q map[string][]string, name string) bool {
	v, ok := q[name]
	return ok && (len(v) == 0 || v[0] == "" || strings.EqualFold(v[0], "true"))
}

// notificationOutcome is the XML answer of a test send.
func notificationOutcome(ds []Delivery) []byte {
	type result struct {
		ApplicationPlatform string
		PnsHandle           string
		RegistrationID      string `xml:"RegistrationId"`
		Outcome             string
	}
	type outcome struct {
		XMLName xml.Name `xml:"http://schemas.microsoft.com/netservices/2010/10/servicebus/connect NotificationOutcome"`
		Success int
		Failure int
		Results []result `xml:"Results>RegistrationResult"`
	}
	o := outcome{Success: len(ds)}
	for _, d := range ds {
		o.Results = append(o.Results, result{ApplicationPlatform: d.Platform, PnsHandle: d.PushChannel, RegistrationID: d.InstallationID,
			Outcome: "The Notification was successfully sent to the Push Notification System"})
	}
	b, _ := xml.Marshal(o)
	return b
}

func (s *Server) batch(w http.ResponseWriter, r *http.Request, hub string) {
	if !isSet(r.URL.Query(), "direct") {
		nhError(w, http.StatusBadRequest, "A $batch send must be direct")
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" || params["boundary"] == "" {
		nhError(w, http.StatusBadRequest, "A $batch send must be multipart/mixed with a boundary")
		return
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var payload []byte
	var payloadType string
	var devices []string
	gotDevices := false
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			nhError(w, http.StatusBadRequest, "Malformed multipart body: "+err.Error())
			return
		}
		data, err := io.ReadAll(p)
		if err != nil {
			nhError(w, http.StatusBadRequest, "Malformed multipart part: "+err.Error())
			return
		}
		_, dp, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
		switch dp["name"] {
		case "notification":
			payload, payloadType = data, p.Header.Get("Content-Type")
		case "devices":
			if err := json.Unmarshal(data, &devices); err != nil {
				nhError(w, http.StatusBadRequest, "The devices part is not a JSON array of strings")
				return
			}
			gotDevices = true
		default:
			nhError(w, http.StatusBadRequest, fmt.Sprintf("Unexpected multipart part %q", dp["name"]))
			return
		}
	}
	if payload == nil || !gotDevices {
		nhError(w, http.StatusBadRequest, "A $batch send needs a notification part and a devices part")
		return
	}
	if len(devices) == 0 || len(devices) > 1000 {
		nhError(w, http.StatusBadRequest, fmt.Sprintf("A $batch send takes 1 to 1000 devices, got %d", len(devices)))
		return
	}
	format, ok := checkNotification(w, r.Header, payloadType, payload)
	if !ok {
		return
	}
	n := s.newNotification(r, hub, "batch", format, payload)
	n.ContentType = payloadType
	n.DeviceHandles = devices
	for _, d := range devices {
		n.Deliveries = append(n.Deliveries, Delivery{Platform: installationPlatform[format], PushChannel: d, Payload: string(payload)})
	}
	s.state.record(n)
	s.accepted(w, r, hub, n.ID, nil)
}

func (s *Server) schedule(w http.ResponseWriter, r *http.Request, hub string) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	format, ok := checkNotification(w, r.Header, r.Header.Get("Content-Type"), body)
	if !ok {
		return
	}
	raw := r.Header.Get("ServiceBusNotification-ScheduleTime")
	at, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		at, err = time.Parse("2006-01-02T15:04:05", raw)
	}
	if err != nil {
		nhError(w, http.StatusBadRequest, fmt.Sprintf("ServiceBusNotification-ScheduleTime %q is not an ISO 8601 UTC time", raw))
		return
	}
	now := s.opts.Now()
	if !at.After(now) || at.Sub(now) > 7*24*time.Hour {
		nhError(w, http.StatusBadRequest, "ServiceBusNotification-ScheduleTime must be in the future and at most 7 days ahead")
		return
	}
	audience, err := parseTagExpr(r.Header.Get("ServiceBusNotification-Tags"))
	if err != nil {
		nhError(w, http.StatusBadRequest, "Invalid ServiceBusNotification-Tags: "+err.Error())
		return
	}
	n := s.newNotification(r, hub, "scheduled", format, body)
	at = at.UTC()
	n.ScheduleTime = &at
	n.Deliveries = s.state.deliveries(hub, format, body, audience)
	s.state.record(n)
	s.accepted(w, r, hub, n.ID, nil)
}

func (s *Server) cancelScheduled(w http.ResponseWriter, hub, id string) {
	if !s.state.cancel(hub, id) {
		nhError(w, http.StatusNotFound, "No scheduled notification "+id)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) details(w http.ResponseWriter, hub, id string) {
	n, ok := s.state.notification(id)
	if !ok || !strings.EqualFold(n.Hub, hub) {
		nhError(w, http.StatusNotFound, "No notification "+id)
		return
	}
	type outcome struct {
		Name  string
		Count int
	}
	type details struct {
		XMLName              xml.Name `xml:"http://schemas.microsoft.com/netservices/2010/10/servicebus/connect NotificationDetails"`
		NotificationID       string   `xml:"NotificationId"`
		Location             string
		State                string
		EnqueueTime          string
		StartTime            string
		EndTime              string
		NotificationBody     string
		TargetPlatforms      string
		ApnsOutcomeCounts    []outcome `xml:"ApnsOutcomeCounts>Outcome,omitempty"`
		GcmOutcomeCounts     []outcome `xml:"GcmOutcomeCounts>Outcome,omitempty"`
		FcmV1OutcomeCounts   []outcome `xml:"FcmV1OutcomeCounts>Outcome,omitempty"`
		WnsOutcomeCounts     []outcome `xml:"WnsOutcomeCounts>Outcome,omitempty"`
		MpnsOutcomeCounts    []outcome `xml:"MpnsOutcomeCounts>Outcome,omitempty"`
		AdmOutcomeCounts     []outcome `xml:"AdmOutcomeCounts>Outcome,omitempty"`
		BaiduOutcomeCounts   []outcome `xml:"BaiduOutcomeCounts>Outcome,omitempty"`
		XiaomiOutcomeCounts  []outcome `xml:"XiaomiOutcomeCounts>Outcome,omitempty"`
		BrowserOutcomeCounts []outcome `xml:"BrowserOutcomeCounts>Outcome,omitempty"`
	}
	d := details{NotificationID: n.ID, Location: "/" + hub + "/messages/" + n.ID, State: "Completed",
		EnqueueTime: n.Received.Format(time.RFC3339), StartTime: n.Received.Format(time.RFC3339), EndTime: n.Received.Format(time.RFC3339),
		NotificationBody: n.Body, TargetPlatforms: n.Format}
	switch {
	case n.Cancelled:
		d.State = "Abandoned"
	case n.Kind == "scheduled":
		d.State = "Scheduled"
	}
	count := map[string]int{}
	for _, dl := range n.Deliveries {
		count[dl.Platform]++
	}
	counts := func(p string) []outcome {
		if count[p] == 0 {
			return nil
		}
		return []outcome{{Name: "Success", Count: count[p]}}
	}
	d.ApnsOutcomeCounts, d.GcmOutcomeCounts, d.FcmV1OutcomeCounts = counts("apns"), counts("gcm"), counts("fcmv1")
	d.WnsOutcomeCounts, d.MpnsOutcomeCounts, d.AdmOutcomeCounts = counts("wns"), counts("mpns"), counts("adm")
	d.BaiduOutcomeCounts, d.XiaomiOutcomeCounts, d.BrowserOutcomeCounts = counts("baidu"), counts("xiaomi"), counts("browser")
	b, _ := xml.Marshal(d)
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.Write(b)
}
