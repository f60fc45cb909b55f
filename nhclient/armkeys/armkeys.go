// Package armkeys lets an nhclient.Client sign without a secret in its
// settings: an Azure identity (a managed identity, through azidentity) gets
// a token for Azure Resource Manager, lists the keys of the hub's
// authorization rule (listKeys), and the client signs SAS tokens with the
// key it gets back. NH's data plane takes SAS only, so this is the way to
// use a managed identity with it.
//
// The identity needs the action
// Microsoft.NotificationHubs/namespaces/notificationHubs/authorizationRules/listkeys/action
// on the hub.
package armkeys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/nhpush/nhpush/nhclient"
)

// ListKeysAction is the permission the identity needs on the hub.
const ListKeysAction = "Microsoft.NotificationHubs/namespaces/notificationHubs/authorizationRules/listkeys/action"

// Defaults.
const (
	DefaultEndpoint   = "https://management.azure.com"
	DefaultAPIVersion = "2023-09-01"
	DefaultRule       = "DefaultFullSharedAccessSignature"
)

// Errors a person can act on; test with errors.Is.
var (
	ErrInvalidResourceID = errors.New("armkeys: invalid hub resource id")
	ErrNoIdentity        = errors.New("armkeys: no Azure identity available")
	ErrPermissionDenied  = errors.New("armkeys: the identity may not list the hub's keys")
	ErrNotFound          = errors.New("armkeys: hub or authorization rule not found")
)

// Options configures a Source. A nil *Options, and every zero field, means
// the documented default.
type Options struct {
	// Endpoint is the ARM base URL. Default: https://management.azure.com
	// (sovereign clouds: https://management.chinacloudapi.cn,
	// https://management.usgovcloudapi.net).
	Endpoint string
	// Scope is the token scope. Default: Endpoint + "/.default".
	Scope string
	// APIVersion of Microsoft.NotificationHubs. Default: 2023-09-01.
	APIVersion string
	// HTTPClient calls ARM. Default: a client with a 30 s timeout.
	HTTPClient *http.Client
}

// Source is an nhclient.KeySource that lists a rule's keys through ARM. It
// caches them and fetches again only when NH refused the cached key: many
// sends refused at once share one fetch. It is safe for concurrent use.
type Source struct {
	cred       azcore.TokenCredential
	resourceID string
	rule       string
	hub        string
	listURL    string
	scope      string
	http       *http.Client

	mu       sync.Mutex
	endpoint string
	key      nhclient.Key
}

// New returns a Source for the hub with ARM id resourceID
// (/subscriptions/S/resourceGroups/RG/providers/Microsoft.NotificationHubs/namespaces/NS/notificationHubs/HUB)
// and its authorization rule (empty: DefaultFullSharedAccessSignature).
func New(cred azcore.TokenCredential, resourceID, rule string, opts *Options) (*Source, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	hub, err := hubFromResourceID(resourceID)
	if err != nil {
		return nil, err
	}
	if rule == "" {
		rule = DefaultRule
	}
	if strings.ContainsAny(rule, "/?#") {
		return nil, fmt.Errorf("armkeys: authorization rule %q is not a name", rule)
	}
	if o.Endpoint == "" {
		o.Endpoint = DefaultEndpoint
	}
	ep, err := url.Parse(o.Endpoint)
	if err != nil || ep.Scheme != "https" || ep.Host == "" {
		return nil, fmt.Errorf("armkeys: ARM endpoint %q is not an https URL", o.Endpoint)
	}
	base := strings.TrimRight(o.Endpoint, "/")
	if o.Scope == "" {
		o.Scope = base + "/.default"
	}
	if o.APIVersion == "" {
		o.APIVersion = DefaultAPIVersion
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	return &Source{
		cred: cred, resourceID: strings.TrimRight(resourceID, "/"), rule: rule, hub: hub,
		listURL: base + strings.TrimRight(resourceID, "/") + "/authorizationRules/" + url.PathEscape(rule) + "/listKeys?api-version=" + url.QueryEscape(o.APIVersion),
		scope:   o.Scope, http: o.HTTPClient,
	}, nil
}

// hubFromResourceID checks the shape of a hub's ARM id and returns the hub.
func hubFromResourceID(id string) (string, error) {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	if !strings.HasPrefix(id, "/") || len(parts) != 10 ||
		!strings.EqualFold(parts[0], "subscriptions") || !strings.EqualFold(parts[2], "resourceGroups") ||
		!strings.EqualFold(parts[4], "providers") || !strings.EqualFold(parts[5], "Microsoft.NotificationHubs") ||
		!strings.EqualFold(parts[6], "namespaces") || !strings.EqualFold(parts[8], "notificationHubs") {
		return "", fmt.Errorf("%w: %q; expected /subscriptions/SUB/resourceGroups/RG/providers/Microsoft.NotificationHubs/namespaces/NS/notificationHubs/HUB", ErrInvalidResourceID, id)
	}
	for _, p := range parts {
		if p == "" || strings.ContainsAny(p, "?#%\\ ") {
			return "", fmt.Errorf("%w: %q has an empty or invalid segment", ErrInvalidResourceID, id)
		}
	}
	return parts[9], nil
}

// Hub returns the hub named by the resource id.
func (s *Source) Hub() string { return s.hub }

// Key implements nhclient.KeySource: the cached key, unless it is the one
// NH refused; then the keys are listed anew.
func (s *Source) Key(ctx context.Context, refused *nhclient.Key) (string, nhclient.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.endpoint != "" && (refused == nil || *refused != s.key) {
		return s.endpoint, s.key, nil
	}
	ep, key, err := s.list(ctx)
	if err != nil {
		return "", nhclient.Key{}, err
	}
	s.endpoint, s.key = ep, key
	return ep, key, nil
}

// listKeysResult is the part of ARM's answer used here.
type listKeysResult struct {
	PrimaryConnectionString string `json:"primaryConnectionString"`
}

func (s *Source) list(ctx context.Context) (string, nhclient.Key, error) {
	tok, err := s.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{s.scope}})
	if err != nil {
		return "", nhclient.Key{}, fmt.Errorf("%w: getting a token for %s failed; enable the app's system-assigned managed identity, or set AZURE_CLIENT_ID to a user-assigned one (%s)", ErrNoIdentity, s.scope, oneLine(err.Error(), 300))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.listURL, nil)
	if err != nil {
		return "", nhclient.Key{}, err
	}
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	resp, err := s.http.Do(req)
	if err != nil {
		return "", nhclient.Key{}, fmt.Errorf("armkeys: listing the keys of rule %s: %w", s.rule, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized:
		return "", nhclient.Key{}, fmt.Errorf("%w: ARM answered %d to listKeys on %s/authorizationRules/%s; grant the identity a role with %s on the hub (a custom role with just that action, or Contributor)",
			ErrPermissionDenied, resp.StatusCode, s.resourceID, s.rule, ListKeysAction)
	case resp.StatusCode == http.StatusNotFound:
		return "", nhclient.Key{}, fmt.Errorf("%w: %s/authorizationRules/%s (check NH_RESOURCE_ID and NH_AUTH_RULE)", ErrNotFound, s.resourceID, s.rule)
	case resp.StatusCode != http.StatusOK:
		return "", nhclient.Key{}, fmt.Errorf("armkeys: listKeys on %s answered %d: %s", s.resourceID, resp.StatusCode, armErrorMessage(body))
	}
	var r listKeysResult
	if err := json.Unmarshal(body, &r); err != nil || r.PrimaryConnectionString == "" {
		return "", nhclient.Key{}, fmt.Errorf("armkeys: listKeys on %s answered no primaryConnectionString", s.resourceID)
	}
	cs, err := nhclient.ParseConnectionString(r.PrimaryConnectionString)
	if err != nil {
		return "", nhclient.Key{}, fmt.Errorf("armkeys: the listed primaryConnectionString: %w", err)
	}
	return cs.Endpoint, nhclient.Key{Name: cs.KeyName, Value: cs.Key}, nil
}

// armErrorMessage reads ARM's {"error":{"code","message"}}, or the start of
// the body.
func armErrorMessage(body []byte) string {
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
		return e.Error.Code + ": " + e.Error.Message
	}
	if len(body) > 200 {
		body = body[:200]
	}
	return strings.TrimSpace(string(body))
}

// oneLine folds a multi-line message (azidentity's chain reports) into one
// line of at most n bytes.
func oneLine(msg string, n int) string {
	msg = strings.Join(strings.Fields(msg), " ")
	if len(msg) > n {
		msg = msg[:n] + "..."
	}
	return msg
}
