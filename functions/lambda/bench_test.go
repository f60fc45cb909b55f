package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/nhpush/nhpush/internal/proctest"
)

// BenchmarkRIEColdStart measures the start of the Runtime Interface Emulator
// to the first invocation answered: the RIE starts, execs the bootstrap,
// which initialises (settings, nhclient) and answers one HTTP send,
// including its first TLS handshake to NH (the emulator).
func BenchmarkRIEColdStart(b *testing.B) {
	ev := httpEvent("POST", "/api/notifications", `{"platform":"apple","payload":{"aps":{"alert":"cold"}}}`)
	var total time.Duration
	n := 0
	for b.Loop() {
		r := startRIE(b)
		r.invoke(b, ev)
		total += time.Since(r.Started)
		n++
		b.StopTimer()
		r.Cmd.Process.Kill()
		r.Exited(5 * time.Second)
		r.emu.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(n), "ms-to-first-answer")
}

// BenchmarkRIEInvocations runs 1,000 warm invocations (HTTP sends and SQS
// batches of 10, alternating) through the RIE and reports the bootstrap's
// peak resident memory (VmHWM) after them.
func BenchmarkRIEInvocations(b *testing.B) {
	r := startRIE(b, "LOG_LEVEL=error")
	httpEv := httpEvent("POST", "/api/notifications", `{"platform":"fcmv1","payload":{"data":{"k":"v"}},"tags":["sports"]}`)
	var recs []any
	for i := range 10 {
		recs = append(recs, sqsRecord(fmt.Sprint(i), `{"platform":"apple","payload":{"aps":{"alert":"q"}},"tagExpression":"a && !b"}`))
	}
	sqsEv := map[string]any{"Records": recs}
	var peakAfter100, peak int
	for b.Loop() {
		for i := range 1000 {
			if i%2 == 0 {
				r.invoke(b, httpEv)
			} else {
				r.invoke(b, sqsEv)
			}
			if i == 99 {
				peakAfter100 = bootstrapPeakKiB(b, r)
			}
		}
		r.emu.Reset()
	}
	peak = bootstrapPeakKiB(b, r)
	b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
	b.ReportMetric(float64(peak-peakAfter100)/1024, "growth-after-100-MiB")
}

// bootstrapPeakKiB reads VmHWM of the bootstrap process the RIE started.
func bootstrapPeakKiB(b testing.TB, r *rie) int {
	pid, err := proctest.ChildPID(r.Cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	_, peak, err := proctest.MemoryKiB(pid)
	if err != nil {
		b.Fatal(err)
	}
	return peak
}
