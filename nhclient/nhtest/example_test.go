package nhtest_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nhpush/nhpush/nhclient"
	"github.com/nhpush/nhpush/nhclient/nhtest"
)

// A test of code that sends through NH: start the emulator, point the
// client at it, send, and look at what each device would get.
func ExampleNewServer() {
	hub := nhtest.NewServer()
	defer hub.Close()
	hub.PutInstallation(hub.Hub, nhtest.Installation{
		InstallationID: "phone-1", Platform: "apns", PushChannel: json.RawMessage(`"device-token"`), Tags: []string{"sports"},
	})
	client, _ := nhclient.NewClientFromConnectionString(hub.ConnectionString, hub.Hub,
		&nhclient.ClientOptions{HTTPClient: hub.Client()})

	client.SendAppleNotification(context.Background(), []byte(`{"aps":{"alert":"Goal!"}}`),
		&nhclient.SendOptions{Tags: []string{"sports"}})

	for _, n := range hub.Notifications() {
		for _, d := range n.Deliveries {
			fmt.Println(n.Format, n.Tags, d.InstallationID, d.PushChannel, d.Payload)
		}
	}
	// Output: apple sports phone-1 device-token {"aps":{"alert":"Goal!"}}
}

// Faults: the next two requests are throttled; the client waits as told
// and the third try goes through.
func ExampleServer_InjectFault() {
	hub := nhtest.NewServer()
	defer hub.Close()
	client, _ := nhclient.NewClientFromConnectionString(hub.ConnectionString, hub.Hub,
		&nhclient.ClientOptions{HTTPClient: hub.Client()})

	hub.InjectFault(nhtest.Fault{Count: 2, Status: 429, RetryAfter: "1"})
	_, err := client.SendFcmV1Notification(context.Background(), []byte(`{"notification":{"title":"Hi"}}`), nil)

	fmt.Println(err, hub.FaultsHit(), len(hub.Notifications()))
	// Output: <nil> 2 1
}
