package httpapi

import (
	"net/http"
	"time"

	"github.com/latchid/latch/op"
)

// Cookie names, as Logto's OIDC provider uses them.
const (
	cookieInteraction = "_interaction"
	cookieSession     = "_session"
)

// setCookie sets an HttpOnly, SameSite=Lax cookie on path /, Secure when the endpoint is
// https. A zero maxAge makes a browser-session cookie; a negative one deletes it.
func (s *Server) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	c := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		Secure:   s.secure,
		SameSite: http.SameSiteLaxMode,
	}
	switch {
	case maxAge < 0:
		c.MaxAge = -1
		c.Value = ""
	case maxAge > 0:
		c.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(w, c)
}

// applyCookie applies a flow's cookie change; nil changes nothing.
func (s *Server) applyCookie(w http.ResponseWriter, name string, u *op.CookieUpdate) {
	if u != nil {
		s.setCookie(w, name, u.Value, u.MaxAge)
	}
}

// cookie returns the value of the named cookie, or "".
func cookie(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}
