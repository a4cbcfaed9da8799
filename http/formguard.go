package httpapi

import (
	"mime"
	"net/http"

	"github.com/julienschmidt/httprouter"
)

// postGuard protects the state-changing requests of the sign-in experience (the
// Experience API's PUT and POST routes, the sign-in and register pages' form posts)
// against cross-site requests:
//
//   - an Origin header that is present and is not the endpoint's origin is refused
//     (403): browsers send Origin on every cross-origin POST and PUT, and on same-origin
//     ones too, so the sign-in page's own script and forms always pass; non-browser
//     clients that send no Origin are not affected (they carry no victim's cookies);
//   - a body of another media type than the route takes is refused (415): JSON for the
//     Experience API, application/x-www-form-urlencoded for the form posts. A
//     cross-site form can send text/plain or multipart bodies without a CORS preflight;
//     JSON cannot be sent cross-site without one. A request without Content-Type must
//     have an empty body (submit, for one, sends none).
//
// Each guarded request also carries its source address for the sign-in throttle
// (withSignInSource). Read-only after construction.
type postGuard struct {
	origin string // the endpoint's origin (normalizeOrigin, cors.go)
}

func newPostGuard(endpoint string) postGuard {
	return postGuard{origin: normalizeOrigin(endpoint)}
}

// foreignOrigin reports a request whose Origin header is present and names another
// origin than the endpoint's ("null", sent by sandboxed frames and after some
// cross-origin redirects, is foreign too).
func (g postGuard) foreignOrigin(r *http.Request) bool {
	o, ok := r.Header["Origin"]
	if !ok {
		return false
	}
	if len(o) != 1 {
		return true
	}
	n := normalizeOrigin(o[0])
	return n == "" || n != g.origin
}

// mediaTypeOK reports whether r's body is of mediaType: a Content-Type of that type
// (parameters such as charset allowed), or no Content-Type and no body.
func mediaTypeOK(r *http.Request, mediaType string) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return r.ContentLength == 0
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == mediaType
}

// json guards an Experience API route: Logto's error shape on refusal.
func (g postGuard) json(h httprouter.Handle) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
		if g.foreignOrigin(r) {
			w.Header().Set("Cache-Control", "no-store")
			writeAPIError(w, apiErr(http.StatusForbidden, "auth.forbidden", "Cross-origin requests to the Experience API are not allowed."))
			return
		}
		if !mediaTypeOK(r, "application/json") {
			w.Header().Set("Cache-Control", "no-store")
			writeAPIError(w, apiErr(http.StatusUnsupportedMediaType, "guard.invalid_input", "The request body must be application/json."))
			return
		}
		h(w, withSignInSource(r), p)
	}
}

// form guards a sign-in page's form post: a plain error page on refusal.
func (g postGuard) form(h httprouter.Handle) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
		if g.foreignOrigin(r) {
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "Forbidden: this form can only be posted from its own page.", http.StatusForbidden)
			return
		}
		if !mediaTypeOK(r, "application/x-www-form-urlencoded") {
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "Unsupported Media Type: the form must be posted as application/x-www-form-urlencoded.", http.StatusUnsupportedMediaType)
			return
		}
		h(w, withSignInSource(r), p)
	}
}
