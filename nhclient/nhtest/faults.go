package nhtest

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Fault is a failure the emulator injects instead of serving a request.
type Fault struct {
	// Count is how many requests it hits; zero with Fraction set means every
	// matching request may be hit. Count zero and Fraction zero: the next
	// request only.
	Count int `json:"count,omitempty"`
	// Fraction hits each matching request with this probability (0..1).
	Fraction float64 `json:"fraction,omitempty"`
	// Status answers the request with this code and an NH error body; zero
	// with Latency alone just delays the request.
	Status int `json:"status,omitempty"`
	// RetryAfter is sent as the Retry-After header when not empty (seconds,
	// or an HTTP date).
	RetryAfter string `json:"retryAfter,omitempty"`
	// Latency delays the answer (a slow service, or a timeout).
	Latency Duration `json:"latency,omitempty"`
	// Drop closes the connection without an answer.
	Drop bool `json:"drop,omitempty"`
	// Stall sends the status line and headers of a 201, then part of a
	// body, and stops until the client gives up.
	Stall bool `json:"stall,omitempty"`
	// PathContains restricts the fault to request paths containing it
	// (for example "/messages"); empty matches every NH route.
	PathContains string `json:"pathContains,omitempty"`
	// Match restricts the fault to requests whose ServiceBusNotification-Tags
	// or ServiceBusNotification-DeviceHandle header contains it, to fail
	// chosen notifications only.
	Match string `json:"match,omitempty"`
}

// Duration is a time.Duration that reads and writes JSON as "250ms".
type Duration time.Duration

// MarshalText writes the duration as Go duration text.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads Go duration text ("250ms", "2s").
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}

type activeFault struct {
	Fault
	left int // -1: unlimited
}

type faultSet struct {
	mu     sync.Mutex
	faults []*activeFault
	hits   int
}

func (f *faultSet) add(x Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	left := x.Count
	if left == 0 {
		left = 1
		if x.Fraction > 0 {
			left = -1
		}
	}
	f.faults = append(f.faults, &activeFault{Fault: x, left: left})
}

func (f *faultSet) clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = nil
}

// pick returns the fault that hits r, if any, and uses it up.
func (f *faultSet) pick(r *http.Request) (Fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, a := range f.faults {
		if a.PathContains != "" && !strings.Contains(r.URL.Path, a.PathContains) {
			continue
		}
		if a.Match != "" && !strings.Contains(r.Header.Get("ServiceBusNotification-Tags"), a.Match) &&
			!strings.Contains(r.Header.Get("ServiceBusNotification-DeviceHandle"), a.Match) {
			continue
		}
		if a.Fraction > 0 && rand.Float64() >= a.Fraction {
			continue
		}
		if a.left > 0 {
			a.left--
			if a.left == 0 {
				f.faults = append(f.faults[:i:i], f.faults[i+1:]...)
			}
		}
		f.hits++
		return a.Fault, true
	}
	return Fault{}, false
}
