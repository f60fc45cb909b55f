//go:build soak

package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nhpush/nhpush/internal/proctest"
	"github.com/nhpush/nhpush/nhclient/nhtest"
)

// TestSoak drives SOAK_REQUESTS (default 20,000) valid requests, a mix of
// every platform and audience, plus a share of invalid ones, through the
// custom handler (HTTP and queue invocations) and through the Lambda
// bootstrap under the Runtime Interface Emulator (HTTP events and SQS
// batches), against the emulator with 5% injected transient faults. The
// queues are played as the hosts do: a message answered 500 is delivered
// again (up to 5 times), an SQS record reported failed comes back (up to 5
// receives). It checks that every valid request reached the emulator, counts
// duplicates, that no valid request got a 5xx and that memory stays flat,
// prints its figures, and fails on loss. Run it with `make soak`.
func TestSoak(t *testing.T) {
	total := 20000
	if v, err := strconv.Atoi(os.Getenv("SOAK_REQUESTS")); err == nil && v > 0 {
		total = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()

	emu := nhtest.NewServer()
	defer emu.Close()
	for _, f := range []nhtest.Fault{
		{Fraction: 0.0125, Status: 503}, {Fraction: 0.0127, Status: 500},
		{Fraction: 0.0129, Status: 429, RetryAfter: "0"}, {Fraction: 0.0131, Drop: true},
	} {
		f.PathContains = "/messages"
		emu.InjectFault(f)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, emu.CertificatePEM(), 0o600)
	env := []string{"NH_CONNECTION_STRING=" + emu.ConnectionString, "NH_HUB_NAME=" + emu.Hub, "SSL_CERT_FILE=" + ca,
		"LOG_LEVEL=error", "NH_MAX_RETRIES=5", "HOME=" + t.TempDir()}

	fnPort := strconv.Itoa(proctest.FreePort(t))
	azure := proctest.Start(t, append(env, "FUNCTIONS_CUSTOMHANDLER_PORT="+fnPort), proctest.Build(t, "../functions/azure"))
	azure.WaitListening(t, "127.0.0.1:"+fnPort)
	// One RIE per Lambda path: like Lambda, a runtime takes one invocation
	// at a time.
	bootstrap := proctest.Build(t, "../functions/lambda", "lambda.norpc")
	_, rieHTTP := proctest.StartRIE(t, append(env, "SQS_CONCURRENCY=10"), bootstrap)
	rie, rieSQS := proctest.StartRIE(t, append(env, "SQS_CONCURRENCY=10"), bootstrap)

	d := &driver{fnURL: "http://127.0.0.1:" + fnPort, rieHTTP: rieHTTP, rieSQS: rieSQS,
		http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: time.Minute}}
	// The paths and their shares of the valid requests.
	paths := []struct {
		name    string
		share   float64
		workers int
		run     func(ctx context.Context, ids []int) error
	}{
		{"azure-http", 0.30, 16, d.azureHTTP},
		{"azure-queue", 0.30, 16, d.azureQueue},
		{"lambda-http", 0.15, 1, d.lambdaHTTP},
		{"lambda-sqs", 0.25, 1, d.lambdaSQS},
	}
	start := time.Now()
	next := 0
	var memAzure, memBoot [2]int
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i, p := range paths {
		n := int(float64(total) * p.share)
		if i == len(paths)-1 {
			n = total - next
		}
		ids := make([]int, n)
		for j := range ids {
			ids[j] = next + j
		}
		next += n
		batch := 1
		if p.name == "lambda-sqs" {
			batch = 10
		}
		chunks := make(chan []int, p.workers)
		go func() {
			defer close(chunks)
			for k := 0; k < len(ids); k += batch {
				chunks <- ids[k:min(k+batch, len(ids))]
			}
		}()
		for range p.workers {
			wg.Go(func() {
				for c := range chunks {
					if err := p.run(ctx, c); err != nil {
						select {
						case errs <- fmt.Errorf("%s: %w", p.name, err):
						default:
						}
						return
					}
					if done := d.sent.Add(int64(len(c))); done >= int64(total/4) && done-int64(len(c)) < int64(total/4) {
						memAzure[0], _, _ = proctest.MemoryKiB(azure.Cmd.Process.Pid)
						if pid, err := proctest.ChildPID(rie.Cmd.Process.Pid); err == nil {
							memBoot[0], _, _ = proctest.MemoryKiB(pid)
						}
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	elapsed := time.Since(start)
	memAzure[1], _, _ = proctest.MemoryKiB(azure.Cmd.Process.Pid)
	if pid, err := proctest.ChildPID(rie.Cmd.Process.Pid); err == nil {
		memBoot[1], _, _ = proctest.MemoryKiB(pid)
	}

	// Every valid request must be in the emulator; count duplicates.
	seen := make([]int, total)
	invalidSeen := 0
	for _, n := range emu.Notifications() {
		for _, m := range marker.FindAllStringSubmatch(n.Body, -1) {
			id, _ := strconv.Atoi(m[1])
			if m[0][5] == 'x' {
				invalidSeen++
			} else if id < total {
				seen[id]++
			}
		}
	}
	lost, dup := 0, 0
	for id, c := range seen {
		switch {
		case c == 0:
			lost++
			if lost <= 10 {
				t.Errorf("request %d (%s) never reached NH", id, d.describe(id))
			}
		case c > 1:
			dup += c - 1
		}
	}
	t.Logf("soak: %d valid requests (+%d invalid) in %s (%.0f/s): azure-http %d, azure-queue %d, lambda-http %d, lambda-sqs %d",
		total, d.invalid.Load(), elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(),
		int(float64(total)*0.30), int(float64(total)*0.30), int(float64(total)*0.15), total-int(float64(total)*0.75))
	t.Logf("soak: faults injected %d; queue redeliveries %d; SQS records back %d; dead-lettered/parked invalid %d",
		emu.FaultsHit(), d.redelivered.Load(), d.sqsBack.Load(), d.parked.Load())
	t.Logf("soak: lost %d, duplicates %d, 5xx on valid requests %d, 4xx on valid requests %d, invalid that reached NH %d",
		lost, dup, d.valid5xx.Load(), d.valid4xx.Load(), invalidSeen)
	t.Logf("soak: memory (VmRSS): custom handler %.1f MiB at 25%% -> %.1f MiB at the end; Lambda bootstrap (SQS) %.1f -> %.1f MiB",
		float64(memAzure[0])/1024, float64(memAzure[1])/1024, float64(memBoot[0])/1024, float64(memBoot[1])/1024)
	if lost > 0 || d.valid5xx.Load() > 0 || d.valid4xx.Load() > 0 || invalidSeen > 0 {
		t.Fatalf("soak failed: lost %d, 5xx %d, 4xx %d on valid requests, %d invalid reached NH", lost, d.valid5xx.Load(), d.valid4xx.Load(), invalidSeen)
	}
	for i, m := range [][2]int{memAzure, memBoot} {
		if m[0] > 0 && m[1] > m[0]+20*1024 && m[1] > m[0]*3/2 {
			t.Errorf("memory of %s grew from %d KiB to %d KiB", []string{"the custom handler", "the bootstrap"}[i], m[0], m[1])
		}
	}
}

// marker finds a request's id in a payload: soak-N (valid), soak-xN (invalid).
var marker = regexp.MustCompile(`soak-x?(\d+)`)

type driver struct {
	fnURL, rieHTTP, rieSQS                      string
	http                                        *http.Client
	sent, invalid, redelivered, sqsBack, parked atomic.Int64
	valid5xx, valid4xx                          atomic.Int64
}

// request returns the send request of id: a platform and an audience each
// cycling, the marker in the payload. Every 50th id also yields an invalid
// request (marker soak-xN), sent alongside.
func (d *driver) request(id int, invalid bool) []byte {
	mark := fmt.Sprintf("soak-%d", id)
	if invalid {
		mark = fmt.Sprintf("soak-x%d", id)
	}
	platforms := []struct{ name, payload string }{
		{"apple", `{"aps":{"alert":"` + mark + `"}}`},
		{"fcmv1", `{"notification":{"title":"` + mark + `"}}`},
		{"gcm", `{"data":{"m":"` + mark + `"}}`},
		{"windows", `"<toast><visual><binding template=\"ToastGeneric\"><text>` + mark + `</text></binding></visual></toast>"`},
		{"windowsphone", `"<wp:Notification xmlns:wp=\"WPNotification\"><wp:Toast><wp:Text1>` + mark + `</wp:Text1></wp:Toast></wp:Notification>"`},
		{"adm", `{"data":{"m":"` + mark + `"}}`},
		{"baidu", `{"title":"` + mark + `"}`},
		{"xiaomi", `{"title":"` + mark + `"}`},
		{"browser", `{"title":"` + mark + `"}`},
		{"template", `{"m":"` + mark + `"}`},
	}
	p := platforms[id%len(platforms)]
	audience := [...]string{
		`,"tags":["sports","news"]`, `,"tagExpression":"sports && !muted"`, ``,
		`,"deviceHandle":"device-` + strconv.Itoa(id) + `"`, `,"deviceHandles":["a-` + strconv.Itoa(id) + `","b","c"]`,
		`,"scheduleTime":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"`, `,"test":true`,
	}[(id/len(platforms))%7]
	if invalid {
		audience = `,"tags":["not a tag"]`
	}
	return []byte(`{"platform":"` + p.name + `","payload":` + p.payload + audience + `}`)
}

func (d *driver) describe(id int) string { return string(d.request(id, false)) }

// withInvalid returns the valid requests of ids and, for every 50th id, an
// invalid one too.
func (d *driver) bodies(ids []int) (valid [][]byte, invalid [][]byte) {
	for _, id := range ids {
		valid = append(valid, d.request(id, false))
		if id%50 == 0 {
			invalid = append(invalid, d.request(id, true))
			d.invalid.Add(1)
		}
	}
	return valid, invalid
}

func (d *driver) post(ctx context.Context, url string, body []byte) (int, []byte, error) {
	req, _ := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (d *driver) judge(status int, valid bool) {
	switch {
	case valid && status >= 500:
		d.valid5xx.Add(1)
	case valid && status >= 400:
		d.valid4xx.Add(1)
	}
}

func (d *driver) azureHTTP(ctx context.Context, ids []int) error {
	valid, invalid := d.bodies(ids)
	for _, b := range valid {
		st, _, err := d.post(ctx, d.fnURL+"/api/notifications", b)
		if err != nil {
			return err
		}
		d.judge(st, true)
	}
	for _, b := range invalid {
		st, _, err := d.post(ctx, d.fnURL+"/api/notifications", b)
		if err != nil {
			return err
		}
		if st != 400 {
			return fmt.Errorf("invalid request answered %d", st)
		}
	}
	return nil
}

// azureQueue plays the Functions host: a message answered 500 is delivered
// again, up to maxDequeueCount (5) times; one parked in deadletter is done.
func (d *driver) azureQueue(ctx context.Context, ids []int) error {
	valid, invalid := d.bodies(ids)
	for i, b := range append(valid, invalid...) {
		isValid := i < len(valid)
		for attempt := 1; ; attempt++ {
			inv, _ := json.Marshal(map[string]any{"Data": map[string]string{"message": string(b)},
				"Metadata": map[string]any{"DequeueCount": strconv.Itoa(attempt), "Id": strconv.Quote(fmt.Sprint(ids[0], "-", i))}})
			st, out, err := d.post(ctx, d.fnURL+"/notifications-queue", inv)
			if err != nil {
				return err
			}
			if st == 200 {
				if bytes.Contains(out, []byte(`"deadletter"`)) {
					d.parked.Add(1)
					if isValid {
						return fmt.Errorf("a valid message was dead-lettered: %s", out)
					}
				}
				break
			}
			if attempt == 5 {
				return fmt.Errorf("message poisoned after 5 deliveries: %s", out)
			}
			d.redelivered.Add(1)
		}
	}
	return nil
}

type httpResult struct {
	StatusCode int `json:"statusCode"`
}

func (d *driver) lambdaHTTP(ctx context.Context, ids []int) error {
	valid, invalid := d.bodies(ids)
	for i, b := range append(valid, invalid...) {
		ev, _ := json.Marshal(map[string]any{"version": "2.0", "rawPath": "/api/notifications", "headers": map[string]string{"content-type": "application/json"},
			"requestContext": map[string]any{"stage": "$default", "http": map[string]string{"method": "POST", "path": "/api/notifications"}},
			"body":           string(b), "isBase64Encoded": false})
		_, out, err := d.post(ctx, d.rieHTTP, ev)
		if err != nil {
			return err
		}
		var r httpResult
		if err := json.Unmarshal(out, &r); err != nil || r.StatusCode == 0 {
			return fmt.Errorf("not an HTTP answer: %s", out)
		}
		if i >= len(valid) && r.StatusCode != 400 {
			return fmt.Errorf("invalid request answered %d", r.StatusCode)
		}
		d.judge(r.StatusCode, i < len(valid))
	}
	return nil
}

// lambdaSQS plays SQS: the records named in batchItemFailures come back in
// the next batch, up to 5 receives; invalid ones are expected back every
// time (they go to the dead-letter queue).
func (d *driver) lambdaSQS(ctx context.Context, ids []int) error {
	valid, invalid := d.bodies(ids)
	type rec struct {
		id       string
		body     []byte
		valid    bool
		receives int
	}
	var pending []*rec
	for i, b := range valid {
		pending = append(pending, &rec{id: fmt.Sprint("v", ids[i]), body: b, valid: true})
	}
	for i, b := range invalid {
		pending = append(pending, &rec{id: fmt.Sprint("x", ids[0], "-", i), body: b})
	}
	for len(pending) > 0 {
		var records []any
		byID := map[string]*rec{}
		for _, r := range pending {
			r.receives++
			byID[r.id] = r
			records = append(records, map[string]any{"messageId": r.id, "body": string(r.body), "eventSource": "aws:sqs",
				"attributes": map[string]string{"ApproximateReceiveCount": strconv.Itoa(r.receives)}})
		}
		ev, _ := json.Marshal(map[string]any{"Records": records})
		_, out, err := d.post(ctx, d.rieSQS, ev)
		if err != nil {
			return err
		}
		var resp struct {
			BatchItemFailures []struct{ ItemIdentifier string } `json:"batchItemFailures"`
		}
		if err := json.Unmarshal(out, &resp); err != nil || resp.BatchItemFailures == nil {
			return fmt.Errorf("not an SQS answer: %s", out)
		}
		pending = pending[:0]
		for _, f := range resp.BatchItemFailures {
			r := byID[f.ItemIdentifier]
			if r == nil {
				return fmt.Errorf("unknown record %q reported", f.ItemIdentifier)
			}
			switch {
			case !r.valid:
				d.parked.Add(1) // to the dead-letter queue by the redrive policy
			case r.receives >= 5:
				return fmt.Errorf("record %s failed 5 receives", r.id)
			default:
				d.sqsBack.Add(1)
				pending = append(pending, r)
			}
		}
	}
	return nil
}
