// Package nhtest is a local Azure Notification Hubs emulator, in the manner
// of net/http/httptest: NewServer starts an HTTPS server on loopback that
// speaks NH's REST API (sends in every format, direct and batch sends,
// scheduled and test sends, telemetry, installations), verifies SAS tokens
// and rights, validates requests as the service does, records what it
// accepted with the devices each notification reached, and injects faults.
//
// It shares no code with the nhclient package: it checks what a client
// does, so it signs, parses and validates independently.
package nhtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Default rule names, as the Azure portal creates them for a hub.
const (
	FullRuleName   = "DefaultFullSharedAccessSignature"
	ListenRuleName = "DefaultListenSharedAccessSignature"
)

// DefaultHub is the hub a server serves when Options name none.
const DefaultHub = "nhpush"

// Options configures a Server. The zero value serves DefaultHub with a full
// and a listen-only rule whose keys are random.
type Options struct {
	// Hubs are the hub names served; default []string{DefaultHub}. The first
	// is Server.Hub.
	Hubs []string
	// Rules are the namespace's authorization rules, valid for every hub;
	// default a full rule (Listen, Send, Manage) and a listen-only rule with
	// random keys.
	Rules []Rule
	// Installations are loaded into the first hub at start.
	Installations []Installation
	// Addr is the listen address for Start; default "127.0.0.1:0".
	Addr string
	// Now is the clock for token expiry; default time.Now.
	Now func() time.Time
	// ErrorLog receives the HTTP server's errors; default discards them.
	ErrorLog *log.Logger
	// MaxNotifications bounds the notifications kept for inspection; past
	// it the oldest half is forgotten, so that a long-running emulator
	// stays small. Default (zero): 100,000.
	MaxNotifications int
}

// Server is a running NH emulator.
type Server struct {
	// URL is the namespace endpoint, https://127.0.0.1:PORT.
	URL string
	// Hub is the first hub served.
	Hub string
	// ConnectionString is a full-access connection string (no EntityPath),
	// ListenConnectionString a listen-only one.
	ConnectionString, ListenConnectionString string

	opts     Options
	listener net.Listener
	srv      *http.Server
	cert     *x509.Certificate
	certPEM  []byte
	tlsCert  tls.Certificate
	client   *http.Client
	wg       sync.WaitGroup
	state    *state
	faults   *faultSet
	id       *identity
	closeMux sync.Once
}

// NewServer starts an emulator on a random loopback port with default
// options. Close it when done.
func NewServer() *Server {
	s := NewUnstartedServer(Options{})
	if err := s.Start(); err != nil {
		panic("nhtest: " + err.Error())
	}
	return s
}

// NewUnstartedServer returns an emulator configured by opts that is not
// listening yet; call Start.
func NewUnstartedServer(opts Options) *Server {
	if len(opts.Hubs) == 0 {
		opts.Hubs = []string{DefaultHub}
	}
	if len(opts.Rules) == 0 {
		opts.Rules = []Rule{
			{Name: FullRuleName, Key: randomKey(), Rights: []string{RightListen, RightSend, RightManage}},
			{Name: ListenRuleName, Key: randomKey(), Rights: []string{RightListen}},
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.MaxNotifications <= 0 {
		opts.MaxNotifications = 100_000
	}
	if opts.ErrorLog == nil {
		opts.ErrorLog = log.New(discard{}, "", 0)
	}
	s := &Server{opts: opts, Hub: opts.Hubs[0], state: newState(opts.Hubs, opts.Rules, opts.MaxNotifications), faults: &faultSet{},
		id: &identity{header: newID(), tokens: map[string]time.Time{}}}
	for _, inst := range opts.Installations {
		s.state.putInstallation(s.Hub, inst)
	}
	return s
}

type discard struct{}

// Write discards p.
func (discard) Write(p []byte) (int, error) { return len(p), nil }

func randomKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// Start listens on Options.Addr and serves HTTPS with a certificate made
// for this server (valid for 127.0.0.1, ::1 and localhost).
func (s *Server) Start() error {
	if err := s.makeCert(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.opts.Addr, err)
	}
	s.listener = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{s.tlsCert}, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12})
	s.URL = "https://" + ln.Addr().String()
	host := strings.TrimPrefix(s.URL, "https://")
	s.ConnectionString = s.connectionString(host, s.ruleNamed(FullRuleName, RightSend))
	s.ListenConnectionString = s.connectionString(host, s.ruleNamed(ListenRuleName, RightListen))
	pool := x509.NewCertPool()
	pool.AddCert(s.cert)
	s.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 100}}
	s.srv = &http.Server{Handler: s.Handler(), ErrorLog: s.opts.ErrorLog, ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.srv.Serve(s.listener)
	}()
	return nil
}

// ruleNamed returns the rule called name, or the first with right.
func (s *Server) ruleNamed(name, right string) Rule {
	for _, r := range s.opts.Rules {
		if r.Name == name {
			return r
		}
	}
	for _, r := range s.opts.Rules {
		if r.has(right) {
			return r
		}
	}
	return s.opts.Rules[0]
}

func (s *Server) connectionString(host string, r Rule) string {
	return "Endpoint=sb://" + host + "/;SharedAccessKeyName=" + r.Name + ";SharedAccessKey=" + s.state.key(r.Name)
}

// Close stops the server and closes its connections.
func (s *Server) Close() {
	s.closeMux.Do(func() {
		if s.srv != nil {
			s.srv.Close()
			s.wg.Wait()
		}
		if s.client != nil {
			s.client.CloseIdleConnections()
		}
	})
}

// Client returns an *http.Client that trusts the server's certificate.
func (s *Server) Client() *http.Client { return s.client }

// Certificate returns the server's certificate.
func (s *Server) Certificate() *x509.Certificate { return s.cert }

// CertificatePEM returns the server's certificate in PEM, for SSL_CERT_FILE.
func (s *Server) CertificatePEM() []byte { return s.certPEM }

func (s *Server) makeCert() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"nhpush emulator"}, CommonName: "nhpush emulator"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	s.cert, err = x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	s.certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	s.tlsCert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: s.cert}
	return nil
}
