package httpapi

import "github.com/julienschmidt/httprouter"

// routesUI registers the sign-in pages (work in progress).
func (s *Server) routesUI(r *httprouter.Router) {}
