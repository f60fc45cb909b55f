package nhtest

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"
)

var installationPlatforms = map[string]bool{"apns": true, "fcmv1": true, "gcm": true, "wns": true, "mpns": true,
	"adm": true, "baidu": true, "xiaomi": true, "browser": true}

// checkInstallation validates an installation as the service does.
func checkInstallation(inst *Installation) error {
	if !installationPlatforms[strings.ToLower(inst.Platform)] {
		return fmt.Errorf("platform %q is not supported", inst.Platform)
	}
	pc := strings.TrimSpace(string(inst.PushChannel))
	if pc == "" || pc == "null" || pc == `""` {
		return fmt.Errorf("pushChannel is required")
	}
	if len(inst.Tags) > 60 {
		return fmt.Errorf("an installation may have at most 60 tags, got %d", len(inst.Tags))
	}
	for _, t := range inst.Tags {
		if err := checkTag(t); err != nil {
			return err
		}
	}
	for name, t := range inst.Templates {
		if t.Body == "" {
			return fmt.Errorf("template %q has no body", name)
		}
		for _, tag := range t.Tags {
			if err := checkTag(tag); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkTag(t string) error {
	if t == "" || len(t) > 120 {
		return fmt.Errorf("tag %q must be 1 to 120 characters", t)
	}
	for i := 0; i < len(t); i++ {
		if !validTagByte(t[i]) || t[i] == '$' || t[i] == '{' || t[i] == '}' {
			return fmt.Errorf("tag %q has an invalid character %q", t, t[i])
		}
	}
	return nil
}

func (s *Server) installationRoute(w http.ResponseWriter, r *http.Request, hub, id string) {
	switch r.Method {
	case http.MethodPut:
		body, ok := readBody(w, r)
		if !ok {
			return
		}
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
			nhError(w, http.StatusBadRequest, "An installation must be sent as application/json")
			return
		}
		var inst Installation
		dec := json.NewDecoder(strings.NewReader(string(body)))
		if err := dec.Decode(&inst); err != nil {
			nhError(w, http.StatusBadRequest, "The installation is not valid JSON: "+err.Error())
			return
		}
		if inst.InstallationID != id {
			nhError(w, http.StatusBadRequest, fmt.Sprintf("installationId %q does not match the URL's %q", inst.InstallationID, id))
			return
		}
		if err := checkInstallation(&inst); err != nil {
			nhError(w, http.StatusBadRequest, "Invalid installation: "+err.Error())
			return
		}
		s.state.putInstallation(hub, inst)
		w.WriteHeader(http.StatusOK)
	case http.MethodGet:
		inst, ok := s.state.installation(hub, id)
		if !ok {
			nhError(w, http.StatusNotFound, "Installation not found")
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		json.NewEncoder(w).Encode(inst)
	case http.MethodDelete:
		s.state.deleteInstallation(hub, id)
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPatch:
		body, ok := readBody(w, r)
		if !ok {
			return
		}
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json-patch+json" && mt != "application/json" {
			nhError(w, http.StatusBadRequest, "A patch must be sent as application/json-patch+json")
			return
		}
		var ops []patchOp
		if err := json.Unmarshal(body, &ops); err != nil {
			nhError(w, http.StatusBadRequest, "The patch is not a JSON array of operations: "+err.Error())
			return
		}
		inst, ok := s.state.installation(hub, id)
		if !ok {
			nhError(w, http.StatusNotFound, "Installation not found")
			return
		}
		for i, op := range ops {
			if err := applyPatch(&inst, op); err != nil {
				nhError(w, http.StatusBadRequest, fmt.Sprintf("Patch operation %d: %v", i, err))
				return
			}
		}
		if err := checkInstallation(&inst); err != nil {
			nhError(w, http.StatusBadRequest, "Invalid installation after patch: "+err.Error())
			return
		}
		s.state.putInstallation(hub, inst)
		w.WriteHeader(http.StatusOK)
	default:
		nhError(w, http.StatusMethodNotAllowed, "Method not allowed on an installation")
	}
}

type patchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value"`
}

// applyPatch applies one JSON Patch operation the way NH supports them:
// add/remove/replace on /tags, /tags/{tag}, /templates/{name},
// /templates/{name}/tags, /pushChannel, /userId, /pushChannelExpired.
func applyPatch(inst *Installation, op patchOp) error {
	parts := strings.Split(strings.TrimPrefix(op.Path, "/"), "/")
	str := func() (string, error) {
		var v string
		if err := json.Unmarshal(op.Value, &v); err != nil {
			return "", fmt.Errorf("value of %s must be a string", op.Path)
		}
		return v, nil
	}
	switch {
	case parts[0] == "tags" && len(parts) == 1:
		switch op.Op {
		case "add":
			v, err := str()
			if err != nil {
				return err
			}
			for _, t := range strings.Split(v, ",") {
				if t = strings.TrimSpace(t); t != "" && !contains(inst.Tags, t) {
					inst.Tags = append(inst.Tags, t)
				}
			}
		case "replace":
			var tags []string
			if err := json.Unmarshal(op.Value, &tags); err != nil {
				v, err2 := str()
				if err2 != nil {
					return fmt.Errorf("value of /tags must be a string or an array of strings")
				}
				tags = strings.Split(v, ",")
			}
			inst.Tags = tags
		case "remove":
			inst.Tags = nil
		default:
			return fmt.Errorf("op %q is not add, remove or replace", op.Op)
		}
	case parts[0] == "tags" && len(parts) == 2:
		if op.Op != "remove" {
			return fmt.Errorf("only remove applies to /tags/{tag}")
		}
		out := inst.Tags[:0:0]
		for _, t := range inst.Tags {
			if t != parts[1] {
				out = append(out, t)
			}
		}
		inst.Tags = out
	case parts[0] == "templates" && len(parts) == 2:
		switch op.Op {
		case "add", "replace":
			var t Template
			if err := json.Unmarshal(op.Value, &t); err != nil {
				v, err2 := str()
				if err2 != nil || json.Unmarshal([]byte(v), &t) != nil {
					return fmt.Errorf("value of %s must be a template", op.Path)
				}
			}
			if inst.Templates == nil {
				inst.Templates = map[string]Template{}
			}
			inst.Templates[parts[1]] = t
		case "remove":
			delete(inst.Templates, parts[1])
		default:
			return fmt.Errorf("op %q is not add, remove or replace", op.Op)
		}
	case parts[0] == "pushChannel" && len(parts) == 1 && op.Op == "replace":
		inst.PushChannel = op.Value
		inst.PushChannelExpired = false
	case parts[0] == "userId" && len(parts) == 1:
		if op.Op == "remove" {
			inst.UserID = ""
			return nil
		}
		v, err := str()
		if err != nil {
			return err
		}
		inst.UserID = v
	default:
		return fmt.Errorf("%s on %q is not supported", op.Op, op.Path)
	}
	return nil
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
