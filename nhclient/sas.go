package nhclient

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// GenerateSASToken returns the value of an Authorization header for
// resourceURI, valid until expiry:
//
//	SharedAccessSignature sr=ENC&sig=SIG&se=EXPIRY&skn=KEYNAME
//
// ENC is the URL-encoded, lowercased resourceURI; SIG the URL-encoded Base64
// of HMAC-SHA256 over ENC + "\n" + EXPIRY, keyed with the bytes of key as
// written in the connection string.
func GenerateSASToken(resourceURI, keyName, key string, expiry time.Time) string {
	enc := strings.ToLower(url.QueryEscape(resourceURI))
	se := strconv.FormatInt(expiry.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(enc))
	mac.Write([]byte{'\n'})
	mac.Write([]byte(se))
	sig := url.QueryEscape(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return "SharedAccessSignature sr=" + enc + "&sig=" + sig + "&se=" + se + "&skn=" + url.QueryEscape(keyName)
}

// Key is a shared access key: the authorization rule's name and its key.
type Key struct {
	Name  string
	Value string
}

// sasSigner hands out a cached SAS token for one resource and renews it when
// a quarter of its lifetime is left. It is safe for concurrent use; while a
// token is valid, Token costs one atomic load and a clock read.
type sasSigner struct {
	resource string
	lifetime time.Duration
	now      func() time.Time

	mu  sync.Mutex // serialises renewals and key changes
	key Key
	cur atomic.Pointer[sasToken]
}

type sasToken struct {
	header  string
	renewAt time.Time
	expires time.Time
}

func newSASSigner(resource string, key Key, lifetime time.Duration, now func() time.Time) *sasSigner {
	return &sasSigner{resource: resource, key: key, lifetime: lifetime, now: now}
}

// Token returns a valid Authorization header value.
func (s *sasSigner) Token() string {
	now := s.now()
	if t := s.cur.Load(); t != nil && now.Before(t.renewAt) {
		return t.header
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.cur.Load(); t != nil && now.Before(t.renewAt) {
		return t.header
	}
	exp := now.Add(s.lifetime).Truncate(time.Second)
	t := &sasToken{
		header:  GenerateSASToken(s.resource, s.key.Name, s.key.Value, exp),
		renewAt: exp.Add(-s.lifetime / 4),
		expires: exp,
	}
	s.cur.Store(t)
	return t.header
}

// SetKey replaces the signing key and drops the cached token (key rotation).
func (s *sasSigner) SetKey(k Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.key = k
	s.cur.Store(nil)
}

// CurrentKey returns the key the signer signs with.
func (s *sasSigner) CurrentKey() Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.key
}

// redactSAS replaces the sig= value of a SAS token with REDACTED.
func redactSAS(v string) string {
	i := strings.Index(v, "sig=")
	if i < 0 {
		return v
	}
	j := strings.IndexByte(v[i:], '&')
	if j < 0 {
		return v[:i] + "sig=REDACTED"
	}
	return v[:i] + "sig=REDACTED" + v[i+j:]
}
