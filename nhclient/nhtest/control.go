package nhtest

import (
	"encoding/json"
	"net/http"
	"strings"
)

// The control API, under ControlPrefix (no token needed; loopback only):
//
//	GET    /_emulator/notifications        the accepted notifications (JSON)
//	POST   /_emulator/reset                forget notifications and installations
//	POST   /_emulator/faults               add a Fault (JSON body)
//	DELETE /_emulator/faults               remove all faults
//	GET    /_emulator/installations?hub=H  the stored installations
//	POST   /_emulator/rotate?rule=NAME     give the rule a new key (answers {"key": ...})
//	POST   /_emulator/identity             {"listKeys": false} takes the identity's permission away
//	GET    /_emulator/identity             how many tokens and key listings were served
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, ControlPrefix)
	switch {
	case path == "notifications" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.Notifications())
	case path == "installations" && r.Method == http.MethodGet:
		hub := r.URL.Query().Get("hub")
		if hub == "" {
			hub = s.Hub
		}
		writeJSON(w, http.StatusOK, s.Installations(hub))
	case path == "reset" && r.Method == http.MethodPost:
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	case path == "faults" && r.Method == http.MethodPost:
		var f Fault
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid fault: " + err.Error()})
			return
		}
		if f.Fraction < 0 || f.Fraction > 1 || f.Count < 0 || (f.Status != 0 && (f.Status < 100 || f.Status > 599)) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid fault: fraction is 0..1, count >= 0, status 100..599"})
			return
		}
		s.InjectFault(f)
		w.WriteHeader(http.StatusNoContent)
	case path == "rotate" && r.Method == http.MethodPost:
		key, err := s.RotateKey(r.URL.Query().Get("rule"))
		if err != nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"key": key})
	case path == "identity" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.IdentityStats())
	case path == "identity" && r.Method == http.MethodPost:
		var body struct {
			ListKeys *bool `json:"listKeys"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10)).Decode(&body); err != nil || body.ListKeys == nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": `expected {"listKeys": true|false}`})
			return
		}
		s.SetListKeysAllowed(*body.ListKeys)
		w.WriteHeader(http.StatusNoContent)
	case path == "faults" && r.Method == http.MethodDelete:
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no control route " + r.Method + " " + r.URL.Path})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// Notifications returns the notifications accepted so far, oldest first.
func (s *Server) Notifications() []Notification { return s.state.list() }

// Installations returns the installations stored in hub, by id.
func (s *Server) Installations(hub string) []Installation { return s.state.installations(hub) }

// PutInstallation stores an installation in hub directly, without a request.
func (s *Server) PutInstallation(hub string, inst Installation) { s.state.putInstallation(hub, inst) }

// Reset forgets every notification and installation (faults stay).
func (s *Server) Reset() { s.state.reset() }

// InjectFault adds a fault; see Fault.
func (s *Server) InjectFault(f Fault) { s.faults.add(f) }

// ClearFaults removes every fault.
func (s *Server) ClearFaults() { s.faults.clear() }

// FaultsHit returns how many requests faults have hit.
func (s *Server) FaultsHit() int {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	return s.faults.hits
}
