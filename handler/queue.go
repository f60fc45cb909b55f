package handler

import (
	"context"
	"time"
)

// Disposition says what to do with a queue message after processing it.
type Disposition int

// The dispositions of a message.
const (
	// Done: the notification went out (or was scheduled).
	Done Disposition = iota
	// Retry: it may succeed later (NH throttling, 5xx, timeout, no
	// connection, a rejected key): let the queue deliver it again.
	Retry
	// DeadLetter: it can never succeed (invalid request, NH 400/404/413):
	// park it with its reason instead of retrying in vain.
	DeadLetter
)

// String returns "done", "retry" or "dead-letter".
func (d Disposition) String() string {
	return [...]string{"done", "retry", "dead-letter"}[d]
}

// MessageResult is the outcome of one queue message.
type MessageResult struct {
	Disposition Disposition
	Response    *SendResponse // Done
	Err         *Error        // Retry, DeadLetter
}

// ProcessMessage decodes a queue message (the send request schema) and
// sends it, and says whether the message is done, should come back, or
// should be dead-lettered.
func (s *Service) ProcessMessage(ctx context.Context, body []byte) MessageResult {
	req, err := DecodeSendRequest(body)
	if err != nil {
		return MessageResult{Disposition: DeadLetter, Err: fromClientError(err)}
	}
	res, err := s.Send(ctx, req)
	if err != nil {
		e := fromClientError(err)
		if e.Retryable {
			return MessageResult{Disposition: Retry, Err: e}
		}
		return MessageResult{Disposition: DeadLetter, Err: e}
	}
	return MessageResult{Disposition: Done, Response: res}
}

// DeadLetterRecord is what a dead-lettered message is parked with: the
// message as received, why it failed, and when.
type DeadLetterRecord struct {
	Reason    *Error `json:"reason"`
	Message   string `json:"message"`
	MessageID string `json:"messageId,omitempty"`
	Attempts  int    `json:"attempts,omitempty"`
	At        string `json:"at"`
}

// NewDeadLetterRecord builds the record for a dead-lettered message.
func NewDeadLetterRecord(reason *Error, message []byte, id string, attempts int, now time.Time) DeadLetterRecord {
	return DeadLetterRecord{Reason: reason, Message: string(message), MessageID: id, Attempts: attempts, At: now.UTC().Format(time.RFC3339)}
}
