// Package nhclient is a client for the Azure Notification Hubs REST API: it
// parses connection strings, signs and caches SAS tokens, sends
// notifications in every NH format (to tags, tag expressions, everyone,
// single devices or batches of devices, now or scheduled, as test sends with
// their per-device outcome), manages installations, and retries what NH
// says may succeed later.
//
// A Client is safe for concurrent use and is meant to live for the whole
// process, so that warm serverless invocations reuse its connections and
// its token.
package nhclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// DefaultAPIVersion is the NH REST api-version the client speaks.
const DefaultAPIVersion = "2020-06"

// ClientOptions configures a Client. A nil *ClientOptions, and every zero
// field, means the documented default.
type ClientOptions struct {
	// HTTPClient sends the requests. Default: a client of its own whose
	// transport keeps up to 100 idle connections per host alive (for
	// concurrent sends), with 10 s dial and TLS-handshake timeouts, and
	// trusts the system roots (SSL_CERT_FILE on Linux). With it, TryTimeout
	// is enforced by the transport (the wait for response headers) and a
	// guard on reading the body; with a client of yours, through each try's
	// context, which costs a timer per try. http.DefaultTransport is never
	// modified.
	HTTPClient *http.Client
	// TokenLifetime is how long each SAS token is valid. Tokens are cached
	// and renewed when a quarter of the lifetime is left. Default (zero):
	// 10 minutes. Values under 1 minute are raised to 1 minute.
	TokenLifetime time.Duration
	// Retry configures retries of transient failures.
	Retry RetryOptions
	// Debug logs every request and response (method, URL, headers, status,
	// body) at debug level through Logger, with the SAS signature redacted.
	// It is also switched on by the environment variable NH_DEBUG=1.
	// Default: false.
	Debug bool
	// Logger receives the debug dumps and retry notices. Default:
	// slog.Default().
	Logger *slog.Logger
	// APIVersion is the api-version query parameter. Default: "2020-06".
	APIVersion string
}

// RetryOptions configures retries. Retried are 408, 429, 5xx (but 501 and
// 505), 403 only with Retry-After, timeouts and connection failures.
type RetryOptions struct {
	// MaxRetries is the number of retries after the first try. Default
	// (zero): 3. A negative value disables retries.
	MaxRetries int
	// BaseDelay is the first backoff when NH gives no Retry-After; each
	// retry doubles it, with jitter. Default (zero): 250 ms.
	BaseDelay time.Duration
	// MaxDelay caps the backoff. A Retry-After longer than MaxDelay is not
	// waited for: the error is returned at once for the caller to retry
	// later (a queue, say). Default (zero): 30 s.
	MaxDelay time.Duration
	// TryTimeout bounds each try. Default (zero): 30 s.
	TryTimeout time.Duration
}

// Client talks to one notification hub.
type Client struct {
	hub        string
	hubURL     string // https://host[:port]/hub
	apiQuery   string // "api-version=2020-06"
	signer     *sasSigner
	httpClient *http.Client
	// ownTransport: httpClient is the client's own, whose transport bounds
	// the wait for headers by TryTimeout.
	ownTransport bool
	retry        RetryOptions
	debug        bool
	log          *slog.Logger
	now          func() time.Time
	sleep        func(context.Context, time.Duration) error

	sendURL, directURL, testURL, batchURL, scheduleURL string

	// keySource, when set, is asked for a fresh key once when NH answers
	// 401 (a rotated key).
	keySource KeySource
}

// KeySource supplies the endpoint and key a client signs with when it holds
// no connection string, for example keys that a managed identity lists
// through Azure Resource Manager (package armkeys).
type KeySource interface {
	// Key returns the namespace endpoint (https://NS.servicebus.windows.net)
	// and the key to sign with. The client calls it with refused nil once
	// when it is made, and with the key NH refused (401) when that happens,
	// for example after a key rotation: the source should then return a
	// key other than refused, fetching anew unless another caller's
	// refresh already brought one.
	Key(ctx context.Context, refused *Key) (endpoint string, key Key, err error)
}

// NewClientFromKeySource returns a client for hub that signs with the keys
// src supplies. It asks src for the key at once (so that a missing
// identity or permission shows at start), and once more whenever NH
// answers 401, before failing.
func NewClientFromKeySource(ctx context.Context, hub string, src KeySource, options *ClientOptions) (*Client, error) {
	endpoint, key, err := src.Key(ctx, nil)
	if err != nil {
		return nil, err
	}
	c, err := NewClient(endpoint, hub, key, options)
	if err != nil {
		return nil, err
	}
	c.keySource = src
	return c, nil
}

// NewClientFromConnectionString returns a client for the hub named hub, or
// for the connection string's EntityPath when hub is empty.
func NewClientFromConnectionString(connectionString, hub string, options *ClientOptions) (*Client, error) {
	cs, err := ParseConnectionString(connectionString)
	if err != nil {
		return nil, err
	}
	if hub == "" {
		hub = cs.EntityPath
	}
	return NewClient(cs.Endpoint, hub, Key{Name: cs.KeyName, Value: cs.Key}, options)
}

// NewClient returns a client for hub at endpoint (https://NS.servicebus.windows.net
// or sb://..., a port allowed) that signs with key.
func NewClient(endpoint, hub string, key Key, options *ClientOptions) (*Client, error) {
	ep, err := normalizeEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	if hub == "" {
		return nil, fmt.Errorf("%w: no hub name (set it, or EntityPath in the connection string)", ErrInvalidHub)
	}
	if strings.ContainsAny(hub, "/?#%\\ ") || hub == "." || hub == ".." {
		return nil, fmt.Errorf("%w: %q", ErrInvalidHub, hub)
	}
	if key.Name == "" || key.Value == "" {
		return nil, fmt.Errorf("%w: key name and key are required", ErrInvalidConnectionString)
	}
	var o ClientOptions
	if options != nil {
		o = *options
	}
	c := &Client{
		hub:        hub,
		hubURL:     ep + "/" + hub,
		httpClient: o.HTTPClient,
		retry:      o.Retry,
		debug:      o.Debug || os.Getenv("NH_DEBUG") == "1",
		log:        o.Logger,
		now:        time.Now,
		sleep:      sleepContext,
	}
	if c.retry.TryTimeout <= 0 {
		c.retry.TryTimeout = 30 * time.Second
	}
	if c.httpClient == nil {
		c.httpClient = &http.Client{Transport: newTransport(c.retry.TryTimeout)}
		c.ownTransport = true
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if o.APIVersion == "" {
		o.APIVersion = DefaultAPIVersion
	}
	c.apiQuery = "api-version=" + url.QueryEscape(o.APIVersion)
	lifetime := o.TokenLifetime
	if lifetime == 0 {
		lifetime = 10 * time.Minute
	}
	lifetime = max(lifetime, time.Minute)
	c.signer = newSASSigner(c.hubURL, key, lifetime, func() time.Time { return c.now() })
	if c.retry.MaxRetries == 0 {
		c.retry.MaxRetries = 3
	}
	if c.retry.BaseDelay <= 0 {
		c.retry.BaseDelay = 250 * time.Millisecond
	}
	if c.retry.MaxDelay <= 0 {
		c.retry.MaxDelay = 30 * time.Second
	}
	c.sendURL = c.hubURL + "/messages/?" + c.apiQuery
	c.directURL = c.sendURL + "&direct"
	c.testURL = c.sendURL + "&test"
	c.batchURL = c.hubURL + "/messages/$batch?direct&" + c.apiQuery
	c.scheduleURL = c.hubURL + "/schedulednotifications/?" + c.apiQuery
	return c, nil
}

// Hub returns the hub's name.
func (c *Client) Hub() string { return c.hub }

// HubURL returns the hub's URL, https://HOST[:PORT]/HUB.
func (c *Client) HubURL() string { return c.hubURL }

// SetKey replaces the key the client signs with (after a key rotation); the
// cached token is dropped.
func (c *Client) SetKey(k Key) { c.signer.SetKey(k) }

func newTransport(tryTimeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: tryTimeout,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
}

// request is one NH call, replayable across retries.
type request struct {
	method string
	url    string
	body   []byte
	// header holds the request's own headers besides Authorization.
	header http.Header
}

// response is NH's answer to a successful (2xx) request.
type response struct {
	status int
	header http.Header
	body   []byte
}

// maxResponseBody bounds what the client reads of an answer.
const maxResponseBody = 4 << 20

// do sends r, retrying transient failures as configured, and returns the
// 2xx answer or an error (*ResponseError, *TransportError, or the context's).
func (c *Client) do(ctx context.Context, r *request) (*response, error) {
	refreshed := false
	for attempt := 0; ; attempt++ {
		resp, err := c.try(ctx, r)
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("nhclient: %s %s: %w", r.method, r.url, context.Cause(ctx))
		}
		if re := (*ResponseError)(nil); c.keySource != nil && !refreshed && errors.As(err, &re) && re.StatusCode == http.StatusUnauthorized {
			refreshed = true
			refusedKey := c.signer.CurrentKey()
			_, key, kerr := c.keySource.Key(ctx, &refusedKey)
			if kerr != nil {
				return nil, fmt.Errorf("%w; refreshing the key after it was refused failed too: %w", err, kerr)
			}
			c.signer.SetKey(key)
			c.log.LogAttrs(ctx, slog.LevelInfo, "nhclient: NH refused the key; signing with a refreshed one", slog.String("url", r.url))
			attempt--
			continue
		}
		if attempt >= c.retry.MaxRetries || !IsRetryable(err) {
			return nil, err
		}
		delay := c.backoff(attempt)
		var re *ResponseError
		if errors.As(err, &re) && re.RetryAfter > 0 {
			if re.RetryAfter > c.retry.MaxDelay {
				return nil, err
			}
			delay = re.RetryAfter
		}
		c.log.LogAttrs(ctx, slog.LevelWarn, "nhclient: retrying", slog.String("method", r.method),
			slog.String("url", r.url), slog.Int("attempt", attempt+1), slog.Duration("delay", delay), slog.String("error", err.Error()))
		if err := c.sleep(ctx, delay); err != nil {
			return nil, fmt.Errorf("nhclient: %s %s: %w", r.method, r.url, err)
		}
	}
}

// backoff returns the wait before retry number attempt+1: BaseDelay doubled
// per attempt, capped at MaxDelay, with the upper half jittered.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.retry.BaseDelay << min(attempt, 20)
	if d <= 0 || d > c.retry.MaxDelay {
		d = c.retry.MaxDelay
	}
	return d/2 + rand.N(d/2+1)
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// try sends r once.
func (c *Client) try(ctx context.Context, r *request) (*response, error) {
	// With a client of the caller's, bound the try through its context
	// (unless the caller's deadline is sooner anyway); our own transport
	// bounds the wait for headers itself, and the body read is guarded below.
	if d, ok := ctx.Deadline(); !c.ownTransport && (!ok || time.Until(d) > c.retry.TryTimeout) {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.retry.TryTimeout)
		defer cancel()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return nil, fmt.Errorf("nhclient: building %s %s: %w", r.method, r.url, err)
	}
	if r.header == nil {
		r.header = make(http.Header, 1)
	}
	// r.header is the request's own: each try only renews its token.
	r.header["Authorization"] = []string{c.signer.Token()}
	req.Header = r.header
	if c.debug {
		c.dumpRequest(ctx, req, r.body)
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return nil, &TransportError{Method: r.method, URL: r.url, Err: err}
	}
	var data []byte
	if resp.ContentLength != 0 {
		if c.ownTransport { // a body that stalls is cut at TryTimeout
			guard := time.AfterFunc(c.retry.TryTimeout, func() { resp.Body.Close() })
			defer guard.Stop()
		}
		data, err = io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	}
	resp.Body.Close()
	if err != nil {
		return nil, &TransportError{Method: r.method, URL: r.url, Err: fmt.Errorf("reading the answer: %w", err)}
	}
	if c.debug {
		c.dumpResponse(ctx, r, resp, data)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, newResponseError(r.method, r.url, resp, data, c.now())
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// maxDumpBody bounds the body shown by a debug dump.
const maxDumpBody = 8 << 10

func (c *Client) dumpRequest(ctx context.Context, req *http.Request, body []byte) {
	c.log.LogAttrs(ctx, slog.LevelDebug, "nhclient: request",
		slog.String("method", req.Method), slog.String("url", req.URL.String()),
		slog.Any("headers", redactedHeaders(req.Header)), slog.String("body", dumpBody(body)))
}

func (c *Client) dumpResponse(ctx context.Context, r *request, resp *http.Response, body []byte) {
	c.log.LogAttrs(ctx, slog.LevelDebug, "nhclient: response",
		slog.String("method", r.method), slog.String("url", r.url), slog.Int("status", resp.StatusCode),
		slog.Any("headers", redactedHeaders(resp.Header)), slog.String("body", dumpBody(body)))
}

// redactedHeaders flattens h for logging, with the SAS signature redacted.
func redactedHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		val := strings.Join(v, ", ")
		if strings.EqualFold(k, "Authorization") {
			val = redactSAS(val)
		}
		out[k] = val
	}
	return out
}

func dumpBody(b []byte) string {
	if len(b) > maxDumpBody {
		return string(b[:maxDumpBody]) + fmt.Sprintf("... (%d bytes in all)", len(b))
	}
	return string(b)
}
