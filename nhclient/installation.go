package nhclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Installation is a device registered with the hub: its platform, its PNS
// handle (push channel), its tags and templates.
type Installation struct {
	InstallationID string `json:"installationId"`
	// Platform is one of apns, fcmv1, gcm, wns, mpns, adm, baidu, xiaomi,
	// browser (NH's installation platform names; case-insensitive).
	Platform string `json:"platform"`
	// PushChannel is the PNS handle; for browser installations use
	// BrowserPushChannel instead.
	PushChannel string `json:"-"`
	// BrowserPushChannel is the web push subscription of a browser
	// installation.
	BrowserPushChannel *BrowserPushChannel             `json:"-"`
	PushChannelExpired bool                            `json:"pushChannelExpired,omitempty"`
	ExpirationTime     *time.Time                      `json:"expirationTime,omitempty"`
	UserID             string                          `json:"userId,omitempty"`
	Tags               []string                        `json:"tags,omitempty"`
	Templates          map[string]InstallationTemplate `json:"templates,omitempty"`
}

// BrowserPushChannel is a web push subscription.
type BrowserPushChannel struct {
	Endpoint string `json:"endpoint"`
	P256DH   string `json:"p256dh"`
	Auth     string `json:"auth"`
}

// InstallationTemplate is a template of an installation: NH fills its
// $(name) placeholders from the properties of a template send.
type InstallationTemplate struct {
	Body    string            `json:"body"`
	Headers map[string]string `json:"headers,omitempty"`
	Expiry  string            `json:"expiry,omitempty"`
	Tags    []string          `json:"tags,omitempty"`
}

type installationJSON Installation

// MarshalJSON writes pushChannel as a string, or as an object for browser
// installations.
func (i Installation) MarshalJSON() ([]byte, error) {
	var pc any = i.PushChannel
	if i.BrowserPushChannel != nil {
		pc = i.BrowserPushChannel
	}
	return json.Marshal(struct {
		installationJSON
		PushChannel any `json:"pushChannel"`
	}{installationJSON(i), pc})
}

// UnmarshalJSON reads pushChannel as a string or a browser subscription.
func (i *Installation) UnmarshalJSON(b []byte) error {
	var v struct {
		installationJSON
		PushChannel json.RawMessage `json:"pushChannel"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*i = Installation(v.installationJSON)
	pc := strings.TrimSpace(string(v.PushChannel))
	switch {
	case pc == "" || pc == "null":
	case pc[0] == '{':
		i.BrowserPushChannel = &BrowserPushChannel{}
		return json.Unmarshal(v.PushChannel, i.BrowserPushChannel)
	default:
		return json.Unmarshal(v.PushChannel, &i.PushChannel)
	}
	return nil
}

var installationPlatforms = map[string]bool{
	"apns": true, "fcmv1": true, "gcm": true, "wns": true, "mpns": true,
	"adm": true, "baidu": true, "xiaomi": true, "browser": true,
}

// Validate checks an installation before it is sent: a valid id, a known
// platform, a push channel, at most 60 valid tags, valid template tags.
func (i *Installation) Validate() error {
	if err := validateID("installation id", i.InstallationID); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidInstallation, err)
	}
	if !installationPlatforms[strings.ToLower(i.Platform)] {
		return fmt.Errorf("%w: platform %q is not one of apns, fcmv1, gcm, wns, mpns, adm, baidu, xiaomi, browser", ErrInvalidInstallation, i.Platform)
	}
	if strings.EqualFold(i.Platform, "browser") {
		if b := i.BrowserPushChannel; b == nil || b.Endpoint == "" || b.P256DH == "" || b.Auth == "" {
			return fmt.Errorf("%w: a browser installation needs a push channel with endpoint, p256dh and auth", ErrInvalidInstallation)
		}
	} else if strings.TrimSpace(i.PushChannel) == "" {
		return fmt.Errorf("%w: pushChannel is empty", ErrInvalidInstallation)
	}
	if len(i.Tags) > MaxTagsPerInstallation {
		return fmt.Errorf("%w: %d tags, over the limit of %d", ErrInvalidInstallation, len(i.Tags), MaxTagsPerInstallation)
	}
	for _, t := range i.Tags {
		if err := ValidateTag(t); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidInstallation, err)
		}
	}
	for name, t := range i.Templates {
		if t.Body == "" {
			return fmt.Errorf("%w: template %q has no body", ErrInvalidInstallation, name)
		}
		for _, tag := range t.Tags {
			if err := ValidateTag(tag); err != nil {
				return fmt.Errorf("%w: template %q: %w", ErrInvalidInstallation, name, err)
			}
		}
		for k, v := range t.Headers {
			if err := ValidateHeader(k, v); err != nil {
				return fmt.Errorf("%w: template %q: %w", ErrInvalidInstallation, name, err)
			}
		}
	}
	return nil
}

// InstallationPatch is one JSON Patch operation on an installation, for
// example {Op: "add", Path: "/tags", Value: "sports"} or
// {Op: "remove", Path: "/tags/sports"}.
type InstallationPatch struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value string `json:"value,omitempty"`
}

func (c *Client) installationURL(id string) string {
	return c.hubURL + "/installations/" + url.PathEscape(id) + "?" + c.apiQuery
}

// CreateOrUpdateInstallation creates the installation or replaces it whole.
func (c *Client) CreateOrUpdateInstallation(ctx context.Context, inst *Installation) error {
	if inst == nil {
		return fmt.Errorf("%w: installation is nil", ErrInvalidInstallation)
	}
	if err := inst.Validate(); err != nil {
		return err
	}
	body, err := json.Marshal(inst)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidInstallation, err)
	}
	h := http.Header{"Content-Type": {"application/json"}}
	_, err = c.do(ctx, &request{method: http.MethodPut, url: c.installationURL(inst.InstallationID), body: body, header: h})
	return err
}

// PatchInstallation applies JSON Patch operations (add, remove, replace) to
// an installation.
func (c *Client) PatchInstallation(ctx context.Context, installationID string, patches []InstallationPatch) error {
	if err := validateID("installation id", installationID); err != nil {
		return err
	}
	if len(patches) == 0 {
		return fmt.Errorf("%w: no patch operations", ErrInvalidInstallation)
	}
	for i, p := range patches {
		switch p.Op {
		case "add", "remove", "replace":
		default:
			return fmt.Errorf("%w: patch %d: op %q is not add, remove or replace", ErrInvalidInstallation, i, p.Op)
		}
		if !strings.HasPrefix(p.Path, "/") {
			return fmt.Errorf("%w: patch %d: path %q does not start with /", ErrInvalidInstallation, i, p.Path)
		}
	}
	body, err := json.Marshal(patches)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidInstallation, err)
	}
	h := http.Header{"Content-Type": {"application/json-patch+json"}}
	_, err = c.do(ctx, &request{method: http.MethodPatch, url: c.installationURL(installationID), body: body, header: h})
	return err
}

// GetInstallation returns an installation by id.
func (c *Client) GetInstallation(ctx context.Context, installationID string) (*Installation, error) {
	if err := validateID("installation id", installationID); err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, &request{method: http.MethodGet, url: c.installationURL(installationID)})
	if err != nil {
		return nil, err
	}
	var inst Installation
	if err := json.Unmarshal(resp.body, &inst); err != nil {
		return nil, fmt.Errorf("nhclient: reading installation %q: %w", installationID, err)
	}
	return &inst, nil
}

// DeleteInstallation deletes an installation by id. Deleting one that does
// not exist succeeds, as NH answers it.
func (c *Client) DeleteInstallation(ctx context.Context, installationID string) error {
	if err := validateID("installation id", installationID); err != nil {
		return err
	}
	_, err := c.do(ctx, &request{method: http.MethodDelete, url: c.installationURL(installationID)})
	return err
}
