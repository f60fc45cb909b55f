package nhtest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nhpush/nhpush/internal/benchrun"
)

// BenchmarkEmulator compares the emulator's send route (token verified,
// request validated, audience evaluated, notification recorded) with a
// plain net/http TLS server that answers 201 to the same request, at
// concurrency 1 and 32 over keep-alive connections. `make bench` prints
// the ratio; sends/s is reported too.
func BenchmarkEmulator(b *testing.B) {
	floor := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Location", "https://"+r.Host+"/nhpush/messages/1?api-version=2020-06")
		w.WriteHeader(http.StatusCreated)
	}))
	floor.StartTLS()
	defer floor.Close()
	emu := NewServer()
	defer emu.Close()
	rule := emu.ruleNamed(FullRuleName, RightSend)
	body := []byte(`{"aps":{"alert":"benchmark"}}`)

	run := func(b *testing.B, conc int, url, token string, hc *http.Client) {
		start := time.Now()
		benchrun.Concurrently(b, conc, func() error { return benchrun.PlainSend(hc, url, token, body, "sports || news") })
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "sends/s")
	}
	for _, conc := range []int{1, 32} {
		b.Run(fmt.Sprintf("floor/c=%d", conc), func(b *testing.B) {
			hc := floor.Client()
			hc.Transport.(*http.Transport).MaxIdleConnsPerHost = 100
			run(b, conc, floor.URL+"/nhpush/messages/?api-version=2020-06", "SharedAccessSignature x", hc)
		})
		b.Run(fmt.Sprintf("emulator/c=%d", conc), func(b *testing.B) {
			emu.Reset()
			token := sign(emu.URL+"/"+emu.Hub, rule.Name, rule.Key, time.Now().Add(time.Hour).Unix())
			run(b, conc, emu.URL+"/"+emu.Hub+"/messages/?api-version=2020-06", token, emu.Client())
		})
	}
}
