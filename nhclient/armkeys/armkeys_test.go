package armkeys_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/nhpush/nhpush/nhclient"
	"github.com/nhpush/nhpush/nhclient/armkeys"
	"github.com/nhpush/nhpush/nhclient/nhtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// emulatorCredential gets its tokens from the emulator's managed-identity
// endpoint, as azidentity does in App Service.
type emulatorCredential struct {
	srv    *nhtest.Server
	header string
	calls  int
}

func (c *emulatorCredential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.calls++
	q := url.Values{"api-version": {"2019-08-01"}, "resource": {strings.TrimSuffix(o.Scopes[0], "/.default")}}
	req, _ := http.NewRequestWithContext(ctx, "GET", c.srv.IdentityEndpoint()+"?"+q.Encode(), nil)
	req.Header.Set("X-IDENTITY-HEADER", c.header)
	resp, err := c.srv.Client().Do(req)
	if err != nil {
		return azcore.AccessToken{}, err
	}
	defer resp.Body.Close()
	var t struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&t) != nil {
		return azcore.AccessToken{}, errors.New("ManagedIdentityCredential: no token\n\tmore detail on a second line")
	}
	return azcore.AccessToken{Token: t.AccessToken, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func resourceID(hub string) string {
	return "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.NotificationHubs/namespaces/ns/notificationHubs/" + hub
}

func newSource(t *testing.T, srv *nhtest.Server, cred azcore.TokenCredential, hub, rule string) *armkeys.Source {
	t.Helper()
	src, err := armkeys.New(cred, resourceID(hub), rule, &armkeys.Options{Endpoint: srv.URL, HTTPClient: srv.Client()})
	require.NoError(t, err)
	return src
}

func TestListKeysAndSend(t *testing.T) {
	srv := nhtest.NewServer()
	defer srv.Close()
	cred := &emulatorCredential{srv: srv, header: srv.IdentityHeader()}
	src := newSource(t, srv, cred, srv.Hub, "")
	assert.Equal(t, "nhpush", src.Hub())
	client, err := nhclient.NewClientFromKeySource(context.Background(), src.Hub(), src, &nhclient.ClientOptions{HTTPClient: srv.Client()})
	require.NoError(t, err)
	for range 5 {
		_, err = client.SendAppleNotification(context.Background(), []byte(`{"aps":{}}`), nil)
		require.NoError(t, err)
	}
	assert.Equal(t, nhtest.IdentityStats{TokenRequests: 1, ListKeysCalls: 1}, srv.IdentityStats(), "the key and token are fetched once and reused")

	// A rotated key: the next send is refused once, refreshes, and succeeds.
	_, err = srv.RotateKey(nhtest.FullRuleName)
	require.NoError(t, err)
	_, err = client.SendAppleNotification(context.Background(), []byte(`{"aps":{}}`), nil)
	require.NoError(t, err)
	assert.Equal(t, 2, srv.IdentityStats().ListKeysCalls, "one refresh")
	assert.Len(t, srv.Notifications(), 6)
}

func TestRefreshFailsClearly(t *testing.T) {
	srv := nhtest.NewServer()
	defer srv.Close()
	cred := &emulatorCredential{srv: srv, header: srv.IdentityHeader()}
	src := newSource(t, srv, cred, srv.Hub, "")
	client, err := nhclient.NewClientFromKeySource(context.Background(), src.Hub(), src, &nhclient.ClientOptions{HTTPClient: srv.Client()})
	require.NoError(t, err)
	srv.RotateKey(nhtest.FullRuleName)
	srv.SetListKeysAllowed(false)
	_, err = client.SendAppleNotification(context.Background(), []byte(`{"aps":{}}`), nil)
	require.Error(t, err)
	assert.ErrorIs(t, err, armkeys.ErrPermissionDenied)
	var re *nhclient.ResponseError
	require.True(t, errors.As(err, &re))
	assert.Equal(t, 401, re.StatusCode)
}

func TestActionableErrors(t *testing.T) {
	srv := nhtest.NewServer()
	defer srv.Close()
	good := &emulatorCredential{srv: srv, header: srv.IdentityHeader()}
	ctx := context.Background()

	_, _, err := newSource(t, srv, &emulatorCredential{srv: srv, header: "wrong"}, srv.Hub, "").Key(ctx, nil)
	assert.ErrorIs(t, err, armkeys.ErrNoIdentity)
	assert.Contains(t, err.Error(), "AZURE_CLIENT_ID")
	assert.NotContains(t, err.Error(), "\n", "one line")

	srv.SetListKeysAllowed(false)
	_, _, err = newSource(t, srv, good, srv.Hub, "").Key(ctx, nil)
	assert.ErrorIs(t, err, armkeys.ErrPermissionDenied)
	assert.Contains(t, err.Error(), armkeys.ListKeysAction)
	assert.Contains(t, err.Error(), "grant the identity a role")
	srv.SetListKeysAllowed(true)

	_, _, err = newSource(t, srv, good, "nohub", "").Key(ctx, nil)
	assert.ErrorIs(t, err, armkeys.ErrNotFound)
	assert.Contains(t, err.Error(), "notificationHubs/nohub")
	_, _, err = newSource(t, srv, good, srv.Hub, "NoSuchRule").Key(ctx, nil)
	assert.ErrorIs(t, err, armkeys.ErrNotFound)
	assert.Contains(t, err.Error(), "NH_AUTH_RULE")

	for _, bad := range []string{"", "hub", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.NotificationHubs/namespaces/ns",
		"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/ns/notificationHubs/h",
		"/subscriptions//resourceGroups/rg/providers/Microsoft.NotificationHubs/namespaces/ns/notificationHubs/h"} {
		_, err := armkeys.New(good, bad, "", nil)
		assert.ErrorIs(t, err, armkeys.ErrInvalidResourceID, bad)
	}
	_, err = armkeys.New(good, resourceID("h"), "", &armkeys.Options{Endpoint: "http://insecure"})
	assert.Error(t, err)
	_, err = armkeys.New(good, resourceID("h"), "a/b", nil)
	assert.Error(t, err)
}

func TestRefreshIsShared(t *testing.T) {
	srv := nhtest.NewServer()
	defer srv.Close()
	cred := &emulatorCredential{srv: srv, header: srv.IdentityHeader()}
	src := newSource(t, srv, cred, srv.Hub, "")
	ctx := context.Background()
	_, k1, err := src.Key(ctx, nil)
	require.NoError(t, err)
	_, again, _ := src.Key(ctx, nil)
	assert.Equal(t, k1, again, "cached")
	srv.RotateKey(nhtest.FullRuleName)
	_, k2, err := src.Key(ctx, &k1) // the first caller refused with k1 fetches
	require.NoError(t, err)
	assert.NotEqual(t, k1, k2)
	_, k3, _ := src.Key(ctx, &k1) // a second caller refused with k1 gets k2 without a fetch
	assert.Equal(t, k2, k3)
	assert.Equal(t, 2, srv.IdentityStats().ListKeysCalls)
	assert.Equal(t, 2, cred.calls)
}
