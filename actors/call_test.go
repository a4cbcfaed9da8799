package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/cluster"
	"github.com/latchid/latch/oidcflow/oauth"
)

func TestFailureRoundTrip(t *testing.T) {
	t.Parallel()
	discard := slog.New(slog.DiscardHandler)
	tests := []struct {
		name string
		err  error
		want *oauth.Error
	}{
		{"oauth error keeps code, description and status",
			oauth.InvalidGrant("authorization code already used"),
			&oauth.Error{Code: oauth.CodeInvalidGrant, Description: "authorization code already used", Status: http.StatusBadRequest}},
		{"wrapped oauth error",
			fmt.Errorf("redeem: %w", oauth.InvalidScope("nope")),
			&oauth.Error{Code: oauth.CodeInvalidScope, Description: "nope", Status: http.StatusBadRequest}},
		{"anything else is a server_error that hides the cause",
			errors.New("disk on fire"),
			oauth.ServerError()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FailureError(FailureOf(discard, tt.err))
			if *got != *tt.want {
				t.Errorf("round trip = %+v, want %+v", got, tt.want)
			}
			if !errors.Is(got, &oauth.Error{Code: tt.want.Code}) {
				t.Errorf("errors.Is by code fails for %v", got)
			}
		})
	}
	if got := FailureError(&msg.Failure{Code: "server_error"}); got.Status != http.StatusInternalServerError {
		t.Errorf("a Failure without status maps to %d, want 500", got.Status)
	}
}

// TestCallUnavailableIsTemporarilyUnavailable: a grain nobody can host is
// cluster.ErrUnavailable and, for the protocol, temporarily_unavailable (503), so the
// HTTP edge answers 503 with Retry-After rather than server_error.
func TestCallUnavailableIsTemporarilyUnavailable(t *testing.T) {
	t.Parallel()
	testClient(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	_, err := Call[*msg.Ack](ctx, shared.node, "no-such-kind", "k", &msg.Ack{})
	if !errors.Is(err, cluster.ErrUnavailable) {
		t.Fatalf("Call to a kind no member hosts: %v, want cluster.ErrUnavailable", err)
	}
	wantErr(t, err, oauth.CodeTemporarilyUnavailable, http.StatusServiceUnavailable)
}
