// Package benchrun runs a benchmark's operation at a given concurrency, the
// same way in every benchmark of nhpush, so that ratios compare like with
// like.
package benchrun

import (
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
