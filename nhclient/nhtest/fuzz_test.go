package nhtest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzVerifySAS feeds the emulator's token parser arbitrary Authorization
// headers: it must never panic, and must accept only a token signed with a
// rule's key that covers the URL and has not expired.
func FuzzVerifySAS(f *testing.F) {
	rules := []Rule{{Name: "k", Key: "c2VjcmV0", Rights: []string{RightSend}}}
	now := time.Unix(1_800_000_000, 0)
	good := sign("https://127.0.0.1:7443/hub", "k", "c2VjcmV0", now.Add(time.Hour).Unix())
	for _, s := range []string{good, "", "SharedAccessSignature ", "SharedAccessSignature sr=&sig=&se=&skn=",
		"SharedAccessSignature sr=a&sr=b&sig=c&se=1&skn=k", "SharedAccessSignature sr=%zz&sig=%&se=x&skn=%",
		strings.Replace(good, "se=", "se=1", 1), "Bearer abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, auth string) {
		req := httptest.NewRequest("POST", "https://127.0.0.1:7443/hub/messages/?api-version=2020-06", nil)
		req.Header.Set("Authorization", auth)
		rule, err := verifySAS(req, rules, now)
		if err == nil {
			if auth != good || rule.Name != "k" {
				t.Fatalf("accepted a token that was not signed here: %q", auth)
			}
		} else if err.status != http.StatusUnauthorized || err.detail == "" {
			t.Fatalf("refusal is not a 401 with a detail: %+v", err)
		}
	})
}

// FuzzBatchMultipart feeds the $batch route arbitrary bodies and content
// types: every answer is a 201 or a 4xx with NH's XML error, never a panic
// or a 5xx.
func FuzzBatchMultipart(f *testing.F) {
	body, ct := batchBody("application/json", `{"aps":{}}`, []string{"d1", "d2"})
	f.Add([]byte(body), ct)
	f.Add([]byte("--B\r\n\r\n--B--"), "multipart/mixed; boundary=B")
	f.Add([]byte("--B\r\nContent-Disposition: inline; name=devices\r\n\r\n[1]\r\n--B--\r\n"), "multipart/mixed; boundary=B")
	f.Add([]byte(""), "multipart/mixed")
	srv := NewUnstartedServer(Options{})
	rule := srv.opts.Rules[0]
	h := srv.Handler()
	f.Fuzz(func(t *testing.T, b []byte, contentType string) {
		req := httptest.NewRequest("POST", "https://127.0.0.1:7443/nhpush/messages/$batch?direct&api-version=2020-06", bytes.NewReader(b))
		req.Host = "127.0.0.1:7443"
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("ServiceBusNotification-Format", "apple")
		req.Header.Set("Authorization", sign("https://127.0.0.1:7443/nhpush", rule.Name, rule.Key, time.Now().Add(time.Hour).Unix()))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 201 && (rec.Code < 400 || rec.Code > 499 || !strings.Contains(rec.Body.String(), "<Error><Code>")) {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	})
}
