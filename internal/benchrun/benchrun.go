// Package benchrun runs a benchmark's operation at a given concurrency, the
// same way in every benchmark of nhpush, so that ratios compare like with
// like.
package benchrun

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"testing"
)

// Concurrently runs fn b.N times in all, with conc goroutines (1: in the
// benchmark's own goroutine), reporting allocations; the first error fails
// the benchmark.
func Concurrently(b *testing.B, conc int, fn func() error) {
	b.ReportAllocs()
	if conc <= 1 {
		for b.Loop() {
			if err := fn(); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	b.SetParallelism((conc + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := fn(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// PlainSend is the baseline request of the benchmarks: the POST of an apple
// notification to sendURL with plain net/http, signed with a ready token,
// and tags when not empty. It fails unless NH answers 201.
func PlainSend(hc *http.Client, sendURL, token string, body []byte, tags string) error {
	req, err := http.NewRequest(http.MethodPost, sendURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header["Content-Type"] = []string{"application/json;charset=utf-8"}
	req.Header["Servicebusnotification-Format"] = []string{"apple"}
	if tags != "" {
		req.Header["Servicebusnotification-Tags"] = []string{tags}
	}
	req.Header["Authorization"] = []string{token}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}
