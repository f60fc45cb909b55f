package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/nhpush/nhpush/nhclient"
)

// Service sends notifications and manages installations through one
// nhclient.Client. It is safe for concurrent use; make one per process.
type Service struct {
	client *nhclient.Client
	log    *slog.Logger
	now    func() time.Time
}

// NewService returns a Service over client, logging to logger (nil:
// slog.Default()).
func NewService(client *nhclient.Client, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.Default()
	}
	return &Service{client: client, log: logger, now: time.Now}
}

// SendResponse is the answer to a send: 201 for a sent notification, 202
// for a scheduled one.
type SendResponse struct {
	Kind           Kind                          `json:"kind"`
	NotificationID string                        `json:"notificationId,omitempty"`
	TrackingID     string                        `json:"trackingId,omitempty"`
	CorrelationID  string                        `json:"correlationId,omitempty"`
	ScheduledFor   string                        `json:"scheduledFor,omitempty"`
	Requests       int                           `json:"requests,omitempty"` // batch: NH requests made
	Devices        int                           `json:"devices,omitempty"`  // batch: handles sent
	Outcome        *nhclient.NotificationOutcome `json:"outcome,omitempty"`  // test sends
}

// Status is the HTTP status of the answer.
func (r *SendResponse) Status() int {
	if r.Kind == KindScheduled {
		return 202
	}
	return 201
}

// Send validates req and sends it. Every error is an *Error.
func (s *Service) Send(ctx context.Context, req *SendRequest) (*SendResponse, error) {
	p, err := req.Parse(s.now())
	if err != nil {
		return nil, err
	}
	return s.send(ctx, p)
}

func (s *Service) send(ctx context.Context, p *ParsedSend) (*SendResponse, error) {
	out := &SendResponse{Kind: p.Kind}
	var res *nhclient.SendResult
	var err error
	switch p.Kind {
	case KindDirect:
		res, err = s.client.SendDirectNotification(ctx, p.Notification, p.DeviceHandle)
	case KindScheduled:
		res, err = s.client.ScheduleNotification(ctx, p.Notification, p.ScheduleTime, p.Options)
		out.ScheduledFor = p.ScheduleTime.UTC().Format(time.RFC3339)
	case KindBatch:
		var b *nhclient.BatchResult
		b, err = s.client.SendDirectBatchNotification(ctx, p.Notification, p.DeviceHandles)
		if b != nil {
			out.Requests = len(b.Results)
			out.Devices = len(p.DeviceHandles) - failedHandles(b)
			if len(b.Results) > 0 {
				res = b.Results[0]
			}
		}
		if err != nil && b != nil && len(b.Results) > 0 {
			// Part went out: say which handles failed so that the caller
			// retries only those.
			e := fromClientError(err)
			e.Message = fmt.Sprintf("%d of %d device handles were not sent: %s", failedHandles(b), len(p.DeviceHandles), e.Message)
			return nil, e
		}
	default:
		res, err = s.client.Send(ctx, p.Notification, p.Options)
	}
	if err != nil {
		return nil, fromClientError(err)
	}
	if res != nil {
		out.NotificationID, out.TrackingID, out.CorrelationID, out.Outcome = res.NotificationID, res.TrackingID, res.CorrelationID, res.Outcome
	}
	if s.log.Enabled(ctx, slog.LevelInfo) {
		s.log.LogAttrs(ctx, slog.LevelInfo, "notification sent", slog.String("kind", string(p.Kind)), slog.String("platform", p.Notification.Format.String()),
			slog.String("notificationId", out.NotificationID), slog.String("trackingId", out.TrackingID))
	}
	return out, nil
}

func failedHandles(b *nhclient.BatchResult) int {
	n := 0
	for _, f := range b.Failed {
		n += len(f.DeviceHandles)
	}
	return n
}

// PutInstallation creates or replaces the installation id from its JSON.
func (s *Service) PutInstallation(ctx context.Context, id string, body []byte) error {
	var inst nhclient.Installation
	if err := decodeStrict(body, &inst, nil); err != nil {
		return err
	}
	switch inst.InstallationID {
	case "":
		inst.InstallationID = id
	case id:
	default:
		return badRequest("invalid_installation", "installationId", "installationId %q does not match the id %q in the path", inst.InstallationID, id)
	}
	if err := s.client.CreateOrUpdateInstallation(ctx, &inst); err != nil {
		return fromClientError(err)
	}
	return nil
}

// GetInstallation returns the installation id.
func (s *Service) GetInstallation(ctx context.Context, id string) (*nhclient.Installation, error) {
	inst, err := s.client.GetInstallation(ctx, id)
	if err != nil {
		return nil, fromClientError(err)
	}
	return inst, nil
}

// PatchInstallation applies a JSON Patch (an array of add, remove and
// replace operations) to the installation id.
func (s *Service) PatchInstallation(ctx context.Context, id string, body []byte) error {
	var ops []nhclient.InstallationPatch
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ops); err != nil || dec.More() {
		return badRequest("invalid_patch", "", "the body must be a JSON Patch: an array of {\"op\",\"path\",\"value\"} objects")
	}
	if err := s.client.PatchInstallation(ctx, id, ops); err != nil {
		return fromClientError(err)
	}
	return nil
}

// DeleteInstallation deletes the installation id.
func (s *Service) DeleteInstallation(ctx context.Context, id string) error {
	if err := s.client.DeleteInstallation(ctx, id); err != nil {
		return fromClientError(err)
	}
	return nil
}
