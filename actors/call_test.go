package actors

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"testing"

	"github.com/latchid/latch/actors/msg"
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
