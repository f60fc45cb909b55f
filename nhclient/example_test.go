package nhclient_test

import (
	"context"
	"fmt"
	"log"

	"github.com/nhpush/nhpush/nhclient"
	"github.com/nhpush/nhpush/nhclient/nhtest"
)

// The emulator stands in for a real hub here; with Azure, pass the
// connection string from the portal's Access Policies and the hub's name.
func ExampleNewClientFromConnectionString() {
	hub := nhtest.NewServer()
	defer hub.Close()

	client, err := nhclient.NewClientFromConnectionString(hub.ConnectionString, hub.Hub,
		&nhclient.ClientOptions{HTTPClient: hub.Client()}) // with Azure: nil options
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(client.Hub())
	// Output: nhpush
}

func ExampleClient_SendAppleNotification() {
	hub := nhtest.NewServer()
	defer hub.Close()
	client, _ := nhclient.NewClientFromConnectionString(hub.ConnectionString, hub.Hub, &nhclient.ClientOptions{HTTPClient: hub.Client()})

	res, err := client.SendAppleNotification(context.Background(), []byte(`{"aps":{"alert":"Goal!"}}`),
		&nhclient.SendOptions{TagExpression: "sports && !muted"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.NotificationID != "", res.TrackingID != "")
	// Output: true true
}

func ExampleClient_Send_testSend() {
	hub := nhtest.NewServer()
	defer hub.Close()
	client, _ := nhclient.NewClientFromConnectionString(hub.ConnectionString, hub.Hub, &nhclient.ClientOptions{HTTPClient: hub.Client()})
	ctx := context.Background()
	client.CreateOrUpdateInstallation(ctx, &nhclient.Installation{
		InstallationID: "phone-1", Platform: "fcmv1", PushChannel: "fcm-registration-token", Tags: []string{"sports"},
	})

	res, err := client.Send(ctx, nhclient.NewFcmV1Notification([]byte(`{"notification":{"title":"Goal!"}}`), nil),
		&nhclient.SendOptions{Tags: []string{"sports"}, Test: true})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range res.Outcome.Results {
		fmt.Println(r.RegistrationID, r.ApplicationPlatform, r.PnsHandle)
	}
	// Output: phone-1 fcmv1 fcm-registration-token
}

func ExampleClient_SendDirectBatchNotification() {
	hub := nhtest.NewServer()
	defer hub.Close()
	client, _ := nhclient.NewClientFromConnectionString(hub.ConnectionString, hub.Hub, &nhclient.ClientOptions{HTTPClient: hub.Client()})

	handles := make([]string, 2500)
	for i := range handles {
		handles[i] = fmt.Sprintf("device-token-%d", i)
	}
	res, err := client.SendDirectBatchNotification(context.Background(),
		nhclient.NewAppleNotification([]byte(`{"aps":{"alert":"Hi"}}`), nil), handles)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(res.Results), "requests,", len(res.Failed), "failed")
	// Output: 3 requests, 0 failed
}

func ExampleClient_CreateOrUpdateInstallation() {
	hub := nhtest.NewServer()
	defer hub.Close()
	client, _ := nhclient.NewClientFromConnectionString(hub.ConnectionString, hub.Hub, &nhclient.ClientOptions{HTTPClient: hub.Client()})
	ctx := context.Background()

	err := client.CreateOrUpdateInstallation(ctx, &nhclient.Installation{
		InstallationID: "phone-1", Platform: "apns", PushChannel: "apns-device-token", Tags: []string{"sports"},
	})
	if err != nil {
		log.Fatal(err)
	}
	client.PatchInstallation(ctx, "phone-1", []nhclient.InstallationPatch{{Op: "add", Path: "/tags", Value: "news"}})
	inst, _ := client.GetInstallation(ctx, "phone-1")
	fmt.Println(inst.Platform, inst.Tags)
	// Output: apns [sports news]
}

func ExampleParseConnectionString() {
	cs, err := nhclient.ParseConnectionString(
		"Endpoint=sb://my-namespace.servicebus.windows.net/;SharedAccessKeyName=DefaultFullSharedAccessSignature;SharedAccessKey=c2VjcmV0;EntityPath=my-hub")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cs.Endpoint, cs.KeyName, cs.EntityPath)
	fmt.Println(cs) // the key is redacted
	// Output:
	// https://my-namespace.servicebus.windows.net DefaultFullSharedAccessSignature my-hub
	// Endpoint=https://my-namespace.servicebus.windows.net/;SharedAccessKeyName=DefaultFullSharedAccessSignature;SharedAccessKey=REDACTED;EntityPath=my-hub
}

func ExampleIsRetryable() {
	err := &nhclient.ResponseError{StatusCode: 429}
	fmt.Println(nhclient.IsRetryable(err), nhclient.IsRetryable(nhclient.ErrInvalidTag))
	// Output: true false
}
