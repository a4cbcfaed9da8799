package oauth

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

func TestErrorIsMatchesCode(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", InvalidGrant("code already used"))
	if !errors.Is(err, InvalidGrant("")) {
		t.Fatal("wrapped invalid_grant is not invalid_grant")
	}
	if errors.Is(err, InvalidRequest("")) {
		t.Fatal("invalid_grant matched invalid_request")
	}
	if InvalidClient("").Status != http.StatusUnauthorized || InvalidTarget("").Status != http.StatusBadRequest {
		t.Fatal("wrong status")
	}
	e, ok := From(errors.New("disk on fire"))
	if ok || e.Code != CodeServerError || e.Description == "disk on fire" {
		t.Fatalf("From(plain) = %+v, %v", e, ok)
	}
}
