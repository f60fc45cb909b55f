package nhclient_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nhpush/nhpush/nhclient"
	"github.com/nhpush/nhpush/nhclient/nhtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// emulated starts the emulator and a client for it.
func emulated(t *testing.T) (*nhtest.Server, *nhclient.Client) {
	t.Helper()
	srv := nhtest.NewServer()
	t.Cleanup(srv.Close)
	c, err := nhclient.NewClientFromConnectionString(srv.ConnectionString, srv.Hub,
		&nhclient.ClientOptions{HTTPClient: srv.Client(), Retry: nhclient.RetryOptions{BaseDelay: time.Millisecond}})
	require.NoError(t, err)
	return srv, c
}

func installAll(t *testing.T, c *nhclient.Client) {
	t.Helper()
	ctx := context.Background()
	for _, inst := range []*nhclient.Installation{
		{InstallationID: "ios-1", Platform: "apns", PushChannel: "apns-token-1", Tags: []string{"sports", "user:ann"}},
		{InstallationID: "ios-2", Platform: "APNS", PushChannel: "apns-token-2", Tags: []string{"politics"}},
		{InstallationID: "android-1", Platform: "fcmv1", PushChannel: "fcm-token-1", Tags: []string{"sports", "politics"},
			Templates: map[string]nhclient.InstallationTemplate{"news": {Body: `{"message":{"notification":{"title":"$(title)"}}}`}}},
		{InstallationID: "win-1", Platform: "wns", PushChannel: "https://wns.example/ch/1", Tags: []string{"sports"}},
		{InstallationID: "web-1", Platform: "browser", BrowserPushChannel: &nhclient.BrowserPushChannel{Endpoint: "https://push.example/1", P256DH: "p", Auth: "a"}, Tags: []string{"sports"}},
	} {
		require.NoError(t, c.CreateOrUpdateInstallation(ctx, inst))
	}
}

func reached(o *nhclient.NotificationOutcome) []string {
	var ids []string
	for _, r := range o.Results {
		ids = append(ids, r.RegistrationID)
	}
	return ids
}

func TestEmulatorEveryFormatAndAudience(t *testing.T) {
	_, c := emulated(t)
	installAll(t, c)
	ctx := context.Background()
	tests := []struct {
		name string
		n    *nhclient.Notification
		opts *nhclient.SendOptions
		want []string
	}{
		{"apple broadcast", nhclient.NewAppleNotification([]byte(`{"aps":{"alert":"hi"}}`), nil), &nhclient.SendOptions{Test: true}, []string{"ios-1", "ios-2"}},
		{"apple tag", nhclient.NewAppleNotification([]byte(`{"aps":{"alert":"hi"}}`), nil), &nhclient.SendOptions{Tags: []string{"sports"}, Test: true}, []string{"ios-1"}},
		{"apple expression", nhclient.NewAppleNotification([]byte(`{"aps":{}}`), nil), &nhclient.SendOptions{TagExpression: "!sports", Test: true}, []string{"ios-2"}},
		{"fcmv1 or-tags", nhclient.NewFcmV1Notification([]byte(`{"notification":{"title":"x"}}`), nil), &nhclient.SendOptions{Tags: []string{"x", "politics"}, Test: true}, []string{"android-1"}},
		{"windows toast", nhclient.NewWindowsNotification([]byte(`<toast><visual><binding template="ToastGeneric"><text>hi</text></binding></visual></toast>`), nil), &nhclient.SendOptions{Test: true}, []string{"win-1"}},
		{"windows raw", nhclient.NewWindowsRawNotification([]byte(`raw bytes`), nil), &nhclient.SendOptions{Tags: []string{"sports"}, Test: true}, []string{"win-1"}},
		{"browser", nhclient.NewBrowserNotification([]byte(`{"title":"x"}`), nil), &nhclient.SendOptions{TagExpression: "sports && !politics", Test: true}, []string{"web-1"}},
		{"template", nhclient.NewTemplateNotification(map[string]string{"title": "T"}), &nhclient.SendOptions{Tags: []string{"politics"}, Test: true}, []string{"android-1"}},
		{"installation id tag", nhclient.NewAppleNotification([]byte(`{"aps":{}}`), nil), &nhclient.SendOptions{Tags: []string{"$InstallationId:{ios-2}"}, Test: true}, []string{"ios-2"}},
		{"gcm none", nhclient.NewGcmNotification([]byte(`{"data":{}}`), nil), &nhclient.SendOptions{Test: true}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.Send(ctx, tt.n, tt.opts)
			require.NoError(t, err)
			assert.NotEmpty(t, res.NotificationID)
			assert.NotEmpty(t, res.TrackingID)
			assert.NotEmpty(t, res.CorrelationID)
			require.NotNil(t, res.Outcome)
			assert.Equal(t, len(tt.want), res.Outcome.Success)
			assert.ElementsMatch(t, tt.want, reached(res.Outcome))
		})
	}
	// The other formats are accepted too.
	for _, n := range []*nhclient.Notification{
		nhclient.NewAdmNotification([]byte(`{"data":{"m":"x"}}`), nil),
		nhclient.NewBaiduNotification([]byte(`{"title":"x","description":"y"}`), nil),
		nhclient.NewXiaomiNotification([]byte(`{"title":"x"}`), nil),
		nhclient.NewGcmNotification([]byte(`{"data":{}}`), nil),
		nhclient.NewWindowsPhoneNotification([]byte(`<wp:Notification xmlns:wp="WPNotification"><wp:Toast><wp:Text1>x</wp:Text1></wp:Toast></wp:Notification>`), nil),
	} {
		_, err := c.Send(ctx, n, nil)
		require.NoError(t, err, n.Format.String())
	}
}

func TestEmulatorTemplateExpanded(t *testing.T) {
	srv, c := emulated(t)
	installAll(t, c)
	_, err := c.SendTemplateNotification(context.Background(), map[string]string{"title": "Goal!"}, nil)
	require.NoError(t, err)
	ns := srv.Notifications()
	require.Len(t, ns, 1)
	require.Len(t, ns[0].Deliveries, 1)
	assert.Equal(t, `{"message":{"notification":{"title":"Goal!"}}}`, ns[0].Deliveries[0].Payload)
}

func TestEmulatorDirectBatchScheduleCancelDetails(t *testing.T) {
	srv, c := emulated(t)
	ctx := context.Background()
	n := nhclient.NewAppleNotification([]byte(`{"aps":{"alert":"d"}}`), map[string]string{"apns-push-type": "alert"})

	res, err := c.SendDirectNotification(ctx, n, "token-direct")
	require.NoError(t, err)
	d, err := c.GetNotificationOutcomeDetails(ctx, res.NotificationID)
	require.NoError(t, err)
	assert.Equal(t, "Completed", d.State)
	assert.Equal(t, []nhclient.OutcomeCount{{Name: "Success", Count: 1}}, d.ApnsOutcomeCounts)

	handles := make([]string, 1500)
	for i := range handles {
		handles[i] = "tok-" + strings.Repeat("a", i%5) + time.Duration(i).String()
	}
	batch, err := c.SendDirectBatchNotification(ctx, n, handles)
	require.NoError(t, err)
	assert.Len(t, batch.Results, 2)

	sched, err := c.ScheduleNotification(ctx, n, time.Now().Add(time.Hour), &nhclient.SendOptions{Tags: []string{"x"}})
	require.NoError(t, err)
	require.NoError(t, c.CancelNotification(ctx, sched.NotificationID))
	err = c.CancelNotification(ctx, sched.NotificationID)
	var re *nhclient.ResponseError
	require.True(t, errors.As(err, &re), "cancelling twice: %v", err)
	assert.Equal(t, 404, re.StatusCode)

	ns := srv.Notifications()
	require.Len(t, ns, 4)
	assert.Equal(t, []string{"direct", "batch", "batch", "scheduled"}, []string{ns[0].Kind, ns[1].Kind, ns[2].Kind, ns[3].Kind})
	assert.Equal(t, "alert", ns[0].Headers["Apns-Push-Type"])
	assert.Equal(t, handles, append(append([]string{}, ns[1].DeviceHandles...), ns[2].DeviceHandles...))
	assert.True(t, ns[3].Cancelled)
}

func TestEmulatorInstallationsLifecycle(t *testing.T) {
	_, c := emulated(t)
	ctx := context.Background()
	inst := &nhclient.Installation{InstallationID: "dev-1", Platform: "fcmv1", PushChannel: "t1", Tags: []string{"a"}}
	require.NoError(t, c.CreateOrUpdateInstallation(ctx, inst))
	require.NoError(t, c.PatchInstallation(ctx, "dev-1", []nhclient.InstallationPatch{
		{Op: "add", Path: "/tags", Value: "b"},
		{Op: "remove", Path: "/tags/a"},
		{Op: "replace", Path: "/pushChannel", Value: "t2"},
	}))
	got, err := c.GetInstallation(ctx, "dev-1")
	require.NoError(t, err)
	assert.Equal(t, []string{"b"}, got.Tags)
	assert.Equal(t, "t2", got.PushChannel)
	require.NoError(t, c.DeleteInstallation(ctx, "dev-1"))
	_, err = c.GetInstallation(ctx, "dev-1")
	var re *nhclient.ResponseError
	require.True(t, errors.As(err, &re))
	assert.Equal(t, 404, re.StatusCode)
	assert.False(t, nhclient.IsRetryable(err))
}

func TestEmulatorRefusesListenKeyForSends(t *testing.T) {
	srv, _ := emulated(t)
	c, err := nhclient.NewClientFromConnectionString(srv.ListenConnectionString, srv.Hub, &nhclient.ClientOptions{HTTPClient: srv.Client()})
	require.NoError(t, err)
	_, err = c.SendAppleNotification(context.Background(), []byte(`{"aps":{}}`), nil)
	var re *nhclient.ResponseError
	require.True(t, errors.As(err, &re))
	assert.Equal(t, 401, re.StatusCode)
	assert.Contains(t, re.Detail, "lacks the Send right")
	// Listen suffices for installations.
	require.NoError(t, c.CreateOrUpdateInstallation(context.Background(), &nhclient.Installation{InstallationID: "x", Platform: "apns", PushChannel: "t"}))
}

func TestEmulatorFaultsRetried(t *testing.T) {
	srv, c := emulated(t)
	srv.InjectFault(nhtest.Fault{Count: 1, Status: 429, RetryAfter: "0"})
	srv.InjectFault(nhtest.Fault{Count: 1, Status: 503})
	srv.InjectFault(nhtest.Fault{Count: 1, Drop: true})
	res, err := c.SendAppleNotification(context.Background(), []byte(`{"aps":{}}`), nil)
	require.NoError(t, err)
	assert.NotEmpty(t, res.NotificationID)
	assert.Equal(t, 3, srv.FaultsHit())
	assert.Len(t, srv.Notifications(), 1, "accepted exactly once")
}

func TestEmulatorUnknownHub(t *testing.T) {
	srv, _ := emulated(t)
	c, err := nhclient.NewClientFromConnectionString(srv.ConnectionString, "nohub", &nhclient.ClientOptions{HTTPClient: srv.Client()})
	require.NoError(t, err)
	_, err = c.SendAppleNotification(context.Background(), []byte(`{"aps":{}}`), nil)
	var re *nhclient.ResponseError
	require.True(t, errors.As(err, &re))
	assert.Equal(t, 404, re.StatusCode)
	assert.NotEmpty(t, re.TrackingID)
}
