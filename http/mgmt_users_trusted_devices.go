package httpapi

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
)

// Logto's /api/users/:userId/trusted-devices (routes/admin-user/trusted-device.ts):
// the browsers a user let skip MFA ("remember this device"). Latch has no such
// option, so no user has a trusted device: the list is empty (paged, Total-Number 0)
// and any device id is 404 entity.not_found, once the user is known.
func (s *Server) userTrustedDeviceRoutes() []mgmtRoute {
	return []mgmtRoute{
		{"GET", "/api/users/:userId/trusted-devices", s.listUserTrustedDevices},
		{"DELETE", "/api/users/:userId/trusted-devices/:trustedDeviceId", s.deleteUserTrustedDevice},
	}
}

// trustedDeviceJSON is Logto's TrustedDeviceResponse.
type trustedDeviceJSON struct {
	ID         string  `json:"id"`
	UserAgent  string  `json:"userAgent"`
	Country    *string `json:"country"`
	City       *string `json:"city"`
	CreatedAt  int64   `json:"createdAt"`
	LastUsedAt int64   `json:"lastUsedAt"`
	ExpiresAt  int64   `json:"expiresAt"`
}

func (s *Server) listUserTrustedDevices(r *http.Request, p httprouter.Params) (int, any, error) {
	if _, err := s.findUser(p.ByName("userId")); err != nil {
		return 0, nil, err
	}
	return listOf(r, []trustedDeviceJSON{}, false, func(d trustedDeviceJSON) trustedDeviceJSON { return d })
}

func (s *Server) deleteUserTrustedDevice(_ *http.Request, p httprouter.Params) (int, any, error) {
	if _, err := s.findUser(p.ByName("userId")); err != nil {
		return 0, nil, err
	}
	return 0, nil, apiErr(http.StatusNotFound, "entity.not_found", "The resource does not exist.")
}
