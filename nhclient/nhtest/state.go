package nhtest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Installation is a device stored by the emulator, in NH's JSON shape.
type Installation struct {
	InstallationID     string              `json:"installationId"`
	UserID             string              `json:"userId,omitempty"`
	Platform           string              `json:"platform"`
	PushChannel        json.RawMessage     `json:"pushChannel"`
	PushChannelExpired bool                `json:"pushChannelExpired,omitempty"`
	ExpirationTime     string              `json:"expirationTime,omitempty"`
	Tags               []string            `json:"tags,omitempty"`
	Templates          map[string]Template `json:"templates,omitempty"`
	LastActiveOn       string              `json:"lastActiveOn,omitempty"`
}

// Template is an installation's template.
type Template struct {
	Body    string            `json:"body"`
	Headers map[string]string `json:"headers,omitempty"`
	Expiry  string            `json:"expiry,omitempty"`
	Tags    []string          `json:"tags,omitempty"`
}

// handle returns the push channel as text (a string channel, or the JSON of
// a browser subscription).
func (i *Installation) handle() string {
	var s string
	if json.Unmarshal(i.PushChannel, &s) == nil {
		return s
	}
	return string(i.PushChannel)
}

// Notification is a request the emulator accepted.
type Notification struct {
	ID            string            `json:"id"`
	Hub           string            `json:"hub"`
	Kind          string            `json:"kind"` // send, test, direct, batch, scheduled
	Format        string            `json:"format"`
	ContentType   string            `json:"contentType"`
	Headers       map[string]string `json:"headers,omitempty"` // platform headers
	Tags          string            `json:"tags,omitempty"`    // ServiceBusNotification-Tags
	DeviceHandles []string          `json:"deviceHandles,omitempty"`
	ScheduleTime  *time.Time        `json:"scheduleTime,omitempty"`
	Cancelled     bool              `json:"cancelled,omitempty"`
	Body          string            `json:"body"`
	Received      time.Time         `json:"received"`
	// Deliveries are the devices the notification reached (for scheduled
	// ones: would reach), each with the payload it gets.
	Deliveries []Delivery `json:"deliveries"`
}

// Delivery is one device a notification reached.
type Delivery struct {
	InstallationID string `json:"installationId,omitempty"`
	Platform       string `json:"platform"`
	PushChannel    string `json:"pushChannel"`
	Template       string `json:"template,omitempty"`
	Payload        string `json:"payload"`
}

// state is everything the emulator remembers, guarded by mu.
type state struct {
	mu            sync.Mutex
	hubs          map[string]map[string]*Installation
	rules         []Rule
	notifications []Notification
	byID          map[string]int
	max           int // notifications kept at most
}

func newState(hubs []string, rules []Rule, max int) *state {
	s := &state{hubs: map[string]map[string]*Installation{}, byID: map[string]int{}, max: max}
	for _, h := range hubs {
		s.hubs[strings.ToLower(h)] = map[string]*Installation{}
	}
	s.rules = append([]Rule(nil), rules...)
	return s
}

func (s *state) key(rule string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.rules {
		if r.Name == rule {
			return r.Key
		}
	}
	return ""
}

func (s *state) rulesCopy() []Rule {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Rule(nil), s.rules...)
}

func (s *state) hasHub(hub string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.hubs[strings.ToLower(hub)]
	return ok
}

func (s *state) putInstallation(hub string, inst Installation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := inst
	s.hubs[strings.ToLower(hub)][inst.InstallationID] = &cp
}

func (s *state) installation(hub, id string) (Installation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.hubs[strings.ToLower(hub)][id]
	if !ok {
		return Installation{}, false
	}
	return *i, true
}

func (s *state) deleteInstallation(hub, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.hubs[strings.ToLower(hub)], id)
}

func (s *state) installations(hub string) []Installation {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Installation, 0, len(s.hubs[strings.ToLower(hub)]))
	for _, i := range s.hubs[strings.ToLower(hub)] {
		out = append(out, *i)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].InstallationID < out[b].InstallationID })
	return out
}

// idPrefix makes ids unique across emulator processes; idCounter within one.
var (
	idPrefix  = func() string { b := make([]byte, 8); rand.Read(b); return hex.EncodeToString(b) }()
	idCounter atomic.Uint64
)

// newID returns a unique id for a notification, tracking or correlation id.
func newID() string {
	return idPrefix + strconv.FormatUint(0x1000000000000000|idCounter.Add(1), 16)
}

func (s *state) record(n Notification) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.notifications) >= s.max {
		// Forget the oldest half, and index the rest anew.
		kept := append([]Notification(nil), s.notifications[len(s.notifications)/2:]...)
		s.notifications = kept
		s.byID = make(map[string]int, len(kept))
		for i, k := range kept {
			s.byID[k.ID] = i
		}
	}
	s.byID[n.ID] = len(s.notifications)
	s.notifications = append(s.notifications, n)
}

func (s *state) notification(id string) (Notification, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.byID[id]
	if !ok {
		return Notification{}, false
	}
	return s.notifications[i], true
}

// cancel marks a scheduled notification cancelled; false when there is no
// such scheduled notification.
func (s *state) cancel(hub, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.byID[id]
	if !ok || s.notifications[i].Kind != "scheduled" || !strings.EqualFold(s.notifications[i].Hub, hub) || s.notifications[i].Cancelled {
		return false
	}
	s.notifications[i].Cancelled = true
	return true
}

func (s *state) list() []Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(make([]Notification, 0, len(s.notifications)), s.notifications...)
}

func (s *state) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notifications = nil
	s.byID = map[string]int{}
	for h := range s.hubs {
		s.hubs[h] = map[string]*Installation{}
	}
}

// installationPlatform maps a send format to the installation platform it
// reaches.
var installationPlatform = map[string]string{
	"apple": "apns", "fcmv1": "fcmv1", "gcm": "gcm", "windows": "wns", "windowsphone": "mpns",
	"adm": "adm", "baidu": "baidu", "xiaomi": "xiaomi", "browser": "browser",
}

// tagSet is the tags an expression is evaluated against: the installation's
// own, the template's, and the implicit $InstallationId and $UserId tags.
func tagSet(i *Installation, extra []string) map[string]bool {
	m := make(map[string]bool, len(i.Tags)+len(extra)+2)
	for _, t := range i.Tags {
		m[t] = true
	}
	for _, t := range extra {
		m[t] = true
	}
	m["$InstallationId:{"+i.InstallationID+"}"] = true
	if i.UserID != "" {
		m["$UserId:{"+i.UserID+"}"] = true
	}
	return m
}

// deliveries computes which installations of hub a send reaches, and the
// payload each gets (templates expanded with the send's properties).
func (s *state) deliveries(hub, format string, body []byte, audience tagExpr) []Delivery {
	out := []Delivery{}
	for _, inst := range s.installations(hub) {
		if inst.PushChannelExpired {
			continue
		}
		if format == "template" {
			var props map[string]any
			json.Unmarshal(body, &props)
			names := make([]string, 0, len(inst.Templates))
			for name := range inst.Templates {
				names = append(names, name)
			}
			sort.Strings(names)
			for _, name := range names {
				t := inst.Templates[name]
				if audience.eval(tagSet(&inst, t.Tags)) {
					out = append(out, Delivery{InstallationID: inst.InstallationID, Platform: strings.ToLower(inst.Platform),
						PushChannel: inst.handle(), Template: name, Payload: expandTemplate(t.Body, props)})
				}
			}
			continue
		}
		if !strings.EqualFold(inst.Platform, installationPlatform[format]) || !audience.eval(tagSet(&inst, nil)) {
			continue
		}
		out = append(out, Delivery{InstallationID: inst.InstallationID, Platform: strings.ToLower(inst.Platform),
			PushChannel: inst.handle(), Payload: string(body)})
	}
	return out
}

var templateVar = regexp.MustCompile(`[$#]\(([A-Za-z0-9_.-]+)\)`)

// expandTemplate replaces $(name) and #(name) with the property's value, as
// NH's template language does for simple templates (a missing property
// expands to nothing).
func expandTemplate(body string, props map[string]any) string {
	return templateVar.ReplaceAllStringFunc(body, func(m string) string {
		name := m[2 : len(m)-1]
		v, ok := props[name]
		if !ok {
			return ""
		}
		var text string
		switch x := v.(type) {
		case string:
			text = x
		default:
			b, _ := json.Marshal(x)
			text = string(b)
		}
		return text
	})
}
