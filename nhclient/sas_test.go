package nhclient

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The golden tokens were computed apart from this code, with Python's hmac,
// hashlib, base64 and urllib.parse.quote(s, ”) (the algorithm of the NH
// REST sample).
func TestGenerateSASTokenGolden(t *testing.T) {
	tests := []struct {
		uri, keyName, key string
		expiry            int64
		want              string
	}{
		{"https://my-ns.servicebus.windows.net/MyHub", "DefaultFullSharedAccessSignature", testKey, 1767225600,
			"SharedAccessSignature sr=https%3a%2f%2fmy-ns.servicebus.windows.net%2fmyhub&sig=kdal9j7ZoM4uhI0KL%2FZiUWrYDMnc5vutuvVyemPxYsU%3D&se=1767225600&skn=DefaultFullSharedAccessSignature"},
		{"https://127.0.0.1:7443/hub", "RootManageSharedAccessKey", "c2VjcmV0", 1800000000,
			"SharedAccessSignature sr=https%3a%2f%2f127.0.0.1%3a7443%2fhub&sig=wJ3cHwVqe36oiozIYwBJ8l5ty3pL%2BNERJu7VHecHaYQ%3D&se=1800000000&skn=RootManageSharedAccessKey"},
	}
	for _, tt := range tests {
		got := GenerateSASToken(tt.uri, tt.keyName, tt.key, time.Unix(tt.expiry, 0))
		assert.Equal(t, tt.want, got)
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestSignerCachesAndRenews(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	s := newSASSigner("https://ns/hub", Key{"k", "secret"}, 10*time.Minute, clock.Now)
	first := s.Token()
	assert.Equal(t, GenerateSASToken("https://ns/hub", "k", "secret", time.Unix(1_800_000_600, 0)), first)

	clock.Add(7 * time.Minute) // 3 minutes left: more than a quarter, still cached
	assert.Equal(t, first, s.Token())

	clock.Add(time.Minute) // 2 minutes left: under a quarter, renewed
	second := s.Token()
	assert.NotEqual(t, first, second)
	assert.Contains(t, second, "se=1800001080")

	s.SetKey(Key{"k2", "other"}) // rotation drops the cached token at once
	third := s.Token()
	assert.Contains(t, third, "skn=k2")
	assert.Equal(t, GenerateSASToken("https://ns/hub", "k2", "other", time.Unix(1_800_001_080, 0)), third)
}

func TestSignerConcurrentUse(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	s := newSASSigner("https://ns/hub", Key{"k", "secret"}, time.Minute, clock.Now)
	var wg sync.WaitGroup
	tokens := make([]string, 64)
	for i := range tokens {
		wg.Go(func() {
			if i%8 == 0 {
				clock.Add(time.Second)
			}
			tokens[i] = s.Token()
		})
	}
	wg.Wait()
	for _, tok := range tokens {
		require.Contains(t, tok, "SharedAccessSignature sr=https%3a%2f%2fns%2fhub&sig=")
	}
}

func TestSignerNoHMACWhileValid(t *testing.T) {
	s := newSASSigner("https://ns/hub", Key{"k", "secret"}, 10*time.Minute, time.Now)
	s.Token()
	allocs := testing.AllocsPerRun(100, func() { s.Token() })
	assert.Zero(t, allocs, "a cached token costs no allocation (and so no HMAC)")
}

func TestRedactSAS(t *testing.T) {
	tok := GenerateSASToken("https://ns/hub", "k", "secret", time.Unix(1_800_000_000, 0))
	red := redactSAS(tok)
	assert.Equal(t, "SharedAccessSignature sr=https%3a%2f%2fns%2fhub&sig=REDACTED&se=1800000000&skn=k", red)
	assert.Equal(t, "x sig=REDACTED", redactSAS("x sig=abc"))
	assert.Equal(t, "Bearer y", redactSAS("Bearer y"))
}
