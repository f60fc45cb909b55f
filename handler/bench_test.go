package handler_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nhpush/nhpush/handler"
	"github.com/nhpush/nhpush/internal/benchfloor"
	"github.com/nhpush/nhpush/internal/benchrun"
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
	client := benchfloor.DeployedClient(b, emu, quiet)
	api := httptest.NewServer(handler.NewService(client, quiet).Handler())
	defer api.Close()
	fwd := benchfloor.NewForwarder(emu)
	floor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		status, answer := fwd.Forward(r.Context(), body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, answer)
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
				benchrun.Concurrently(b, conc, func() error { return post(impl.url) })
			})
		}
	}
}
