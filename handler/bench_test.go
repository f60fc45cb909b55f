package handler_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/nhpush/nhpush/handler"
	"github.com/nhpush/nhpush/nhclient"
	"github.com/nhpush/nhpush/nhclient/nhtest"
)

// BenchmarkHandlerPath measures POST /api/notifications -> handler ->
// nhclient -> emulator against the two-hop floor: a plain net/http server
// that decodes the same request, forwards its payload to the same emulator
// with a token signed once, and answers 201. Both at concurrency 1 and 32;
// `make bench` prints the ratio.
func BenchmarkHandlerPath(b *testing.B) {
	emu := nhtest.NewServer()
	defer emu.Close()
	quiet := slog.New(slog.DiscardHandler)
	cs, _ := nhclient.ParseConnectionString(emu.ConnectionString)
	// The client as deployed: its own transport, trusting the emulator
	// through SSL_CERT_FILE (read at the process's first verification).
	ca := filepath.Join(b.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, emu.CertificatePEM(), 0o600); err != nil {
		b.Fatal(err)
	}
	os.Setenv("SSL_CERT_FILE", ca)
	client, err := nhclient.NewClientFromConnectionString(emu.ConnectionString, emu.Hub, &nhclient.ClientOptions{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	api := httptest.NewServer(handler.NewService(client, quiet).Handler())
	defer api.Close()

	token := nhclient.GenerateSASToken(emu.URL+"/"+emu.Hub, cs.KeyName, cs.Key, time.Now().Add(time.Hour))
	nhURL := emu.URL + "/" + emu.Hub + "/messages/?api-version=2020-06"
	floorNH := emu.Client()
	floor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Platform string          `json:"platform"`
			Payload  json.RawMessage `json:"payload"`
			Tags     []string        `json:"tags"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		out, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, nhURL, bytes.NewReader(req.Payload))
		out.Header["Content-Type"] = []string{"application/json;charset=utf-8"}
		out.Header["Servicebusnotification-Format"] = []string{req.Platform}
		out.Header["Servicebusnotification-Tags"] = []string{req.Tags[0]}
		out.Header["Authorization"] = []string{token}
		resp, err := floorNH.Do(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		fmt.Fprintf(w, `{"kind":"send","trackingId":%q}`, resp.Header.Get("TrackingId"))
	}))
	defer floor.Close()

	body := []byte(`{"platform":"apple","payload":{"aps":{"alert":"benchmark"}},"tags":["sports"]}`)
	caller := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
	post := func(url string) error {
		resp, err := caller.Post(url+"/api/notifications", "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	for _, conc := range []int{1, 32} {
		for _, impl := range []struct{ name, url string }{{"floor", floor.URL}, {"handler", api.URL}} {
			b.Run(fmt.Sprintf("%s/c=%d", impl.name, conc), func(b *testing.B) {
				emu.Reset() // keep the emulator's record small between runs
				b.ReportAllocs()
				if conc == 1 {
					for b.Loop() {
						if err := post(impl.url); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				b.SetParallelism((conc + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := post(impl.url); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
