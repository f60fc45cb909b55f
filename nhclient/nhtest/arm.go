package nhtest

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The emulator also plays the two Azure services a managed identity needs:
//
//	GET  /msi/token?api-version=2019-08-01&resource=R     a managed-identity token endpoint in the
//	     (header X-IDENTITY-HEADER)                      App Service protocol (IDENTITY_ENDPOINT)
//	POST /subscriptions/.../notificationHubs/HUB/authorizationRules/RULE/listKeys?api-version=...
//	     (header Authorization: Bearer TOKEN)             ARM's listKeys for the hub's rules
//
// so that azidentity's real code path runs end to end offline. Point
// NH_ARM_ENDPOINT at Server.URL, IDENTITY_ENDPOINT at
// Server.IdentityEndpoint and IDENTITY_HEADER at Server.IdentityHeader.

// identity is the emulated identity service's state.
type identity struct {
	mu            sync.Mutex
	header        string
	tokens        map[string]time.Time // token -> expiry
	denyListKeys  bool
	tokenRequests int
	listKeysCalls int
}

// IdentityStats counts what the identity endpoints served.
type IdentityStats struct {
	TokenRequests int `json:"tokenRequests"`
	ListKeysCalls int `json:"listKeysCalls"`
}

// IdentityStats returns how many tokens and key listings were served.
func (s *Server) IdentityStats() IdentityStats {
	s.id.mu.Lock()
	defer s.id.mu.Unlock()
	return IdentityStats{s.id.tokenRequests, s.id.listKeysCalls}
}

// SetListKeysAllowed grants (true, the default) or takes away the
// identity's permission to list keys; without it listKeys answers 403.
func (s *Server) SetListKeysAllowed(allowed bool) {
	s.id.mu.Lock()
	defer s.id.mu.Unlock()
	s.id.denyListKeys = !allowed
}

// RotateKey gives the rule a new random key (as "Regenerate key" does in the
// portal) and returns it: tokens signed with the old key are refused from
// now on. ConnectionString keeps the old key.
func (s *Server) RotateKey(rule string) (string, error) {
	key := randomKey()
	s.state.mu.Lock()
	defer s.state.mu.Unlock()
	for i := range s.state.rules {
		if s.state.rules[i].Name == rule {
			s.state.rules[i].Key = key
			return key, nil
		}
	}
	return "", fmt.Errorf("nhtest: no rule %q", rule)
}

func (s *Server) serveIdentityToken(w http.ResponseWriter, r *http.Request) {
	s.id.mu.Lock()
	defer s.id.mu.Unlock()
	s.id.tokenRequests++
	if r.Header.Get("X-IDENTITY-HEADER") != s.id.header || s.id.header == "" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_request", "error_description": "X-IDENTITY-HEADER is missing or wrong"})
		return
	}
	q := r.URL.Query()
	if q.Get("api-version") != "2019-08-01" || q.Get("resource") == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "api-version=2019-08-01 and resource are required"})
		return
	}
	tok := "emu-token-" + newID()
	exp := time.Now().Add(time.Hour)
	s.id.tokens[tok] = exp
	writeJSON(w, http.StatusOK, map[string]string{
		"access_token": tok, "expires_on": strconv.FormatInt(exp.Unix(), 10), "resource": q.Get("resource"),
		"token_type": "Bearer", "client_id": "00000000-0000-0000-0000-00000000e1a0",
	})
}

func armError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// serveListKeys answers ARM's listKeys for a rule of a hub the emulator
// serves, whatever the subscription, group and namespace in the path.
func (s *Server) serveListKeys(w http.ResponseWriter, r *http.Request) {
	s.id.mu.Lock()
	s.id.listKeysCalls++
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	exp, known := s.id.tokens[tok]
	deny := s.id.denyListKeys
	s.id.mu.Unlock()
	if !known || time.Now().After(exp) {
		armError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "The access token is invalid or expired.")
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if r.Method != http.MethodPost || len(parts) != 13 || !strings.EqualFold(parts[5], "Microsoft.NotificationHubs") ||
		!strings.EqualFold(parts[8], "notificationHubs") || !strings.EqualFold(parts[10], "authorizationRules") || !strings.EqualFold(parts[12], "listKeys") {
		armError(w, http.StatusNotFound, "NotFound", "No route "+r.Method+" "+r.URL.Path)
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		armError(w, http.StatusBadRequest, "MissingApiVersionParameter", "The api-version query parameter is required.")
		return
	}
	if deny {
		armError(w, http.StatusForbidden, "AuthorizationFailed", "The client does not have authorization to perform action '"+
			"Microsoft.NotificationHubs/namespaces/notificationHubs/authorizationRules/listkeys/action' over scope '"+r.URL.Path+"'.")
		return
	}
	hub, ruleName := parts[9], parts[11]
	if !s.state.hasHub(hub) {
		armError(w, http.StatusNotFound, "ResourceNotFound", "The Resource 'Microsoft.NotificationHubs/namespaces/"+parts[7]+"/notificationHubs/"+hub+"' was not found.")
		return
	}
	key := s.state.key(ruleName)
	if key == "" {
		armError(w, http.StatusNotFound, "NotFound", "The authorization rule "+ruleName+" was not found.")
		return
	}
	host := strings.TrimPrefix(s.URL, "https://")
	cs := "Endpoint=sb://" + host + "/;SharedAccessKeyName=" + ruleName + ";SharedAccessKey=" + key + ";EntityPath=" + hub
	writeJSON(w, http.StatusOK, map[string]string{
		"primaryConnectionString": cs, "secondaryConnectionString": cs, "primaryKey": key, "secondaryKey": key, "keyName": ruleName,
	})
}

// IdentityEndpoint is the URL for IDENTITY_ENDPOINT.
func (s *Server) IdentityEndpoint() string { return s.URL + "/msi/token" }

// IdentityHeader is the secret for IDENTITY_HEADER.
func (s *Server) IdentityHeader() string { return s.id.header }
