package httpapi

import "github.com/julienschmidt/httprouter"

// routesExperience registers the Experience API (work in progress).
func (s *Server) routesExperience(r *httprouter.Router) {}
