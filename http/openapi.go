package httpapi

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/julienschmidt/httprouter"
)

// The OpenAPI 3 documents, split as Logto splits them: /api/swagger.json (and its twin
// /api/.well-known/management.openapi.json) is the Management API; the Experience API
// and the Account API have their own documents. Latch's swagger.json also lists the
// routes Logto leaves out of its document (the OIDC provider, the sign-in pages, the
// probes, /metrics), so that every route Latch serves is documented somewhere.
//
// The documents are generated from the routes the router registered (routeTable), so
// they cannot drift from what is served; routeDocs (openapi_docs.go) adds each route's
// summary, and TestOpenAPICoversEveryRoute fails when a registered route has none.
// Schemas are minimal: operationId, summary, tags, path parameters, security.
const (
	pathSwagger             = "/api/swagger.json"
	pathManagementOpenAPI   = "/api/.well-known/management.openapi.json"
	pathExperienceOpenAPI   = "/api/.well-known/experience.openapi.json"
	pathUserOpenAPI         = "/api/.well-known/user.openapi.json"
	openAPIVersion          = "3.0.1"
	openAPIBearerSchemeName = "bearerAuth"
)

// openAPIDocs holds the encoded documents by path.
type openAPIDocs map[string][]byte

// routeDoc documents one route.
type routeDoc struct {
	Summary string
	// OperationID overrides the generated one (Logto's customRoutes).
	OperationID string
	// Tag overrides the tag derived from the path.
	Tag string
}

// routesOpenAPI registers the documents and builds them from every route registered so
// far (these included): call it last.
func (s *Server) routesOpenAPI(r *routeTable) {
	for _, p := range []string{pathSwagger, pathManagementOpenAPI, pathExperienceOpenAPI, pathUserOpenAPI} {
		r.GET(p, func(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
			h := w.Header()
			h.Set("Content-Type", "application/json; charset=utf-8")
			h.Set("Cache-Control", "public, max-age=300")
			_, _ = w.Write(s.openapi[p])
		})
	}
	s.openapi = buildOpenAPI(s.endpoint, r.routes)
}

// openAPIDocument returns the document served at path (tests).
func (s *Server) openAPIDocument(path string) []byte { return s.openapi[path] }

// openAPISection names the document a route belongs to.
func openAPISection(path string) string {
	switch {
	case path == "/api/experience" || strings.HasPrefix(path, "/api/experience/"):
		return pathExperienceOpenAPI
	case path == "/api/my-account" || strings.HasPrefix(path, "/api/my-account/") || strings.HasPrefix(path, "/api/verifications"):
		return pathUserOpenAPI
	}
	return pathSwagger
}

type oaDocument struct {
	OpenAPI    string                            `json:"openapi"`
	Info       oaInfo                            `json:"info"`
	Servers    []oaServer                        `json:"servers"`
	Paths      map[string]map[string]oaOperation `json:"paths"`
	Tags       []oaTag                           `json:"tags"`
	Components oaComponents                      `json:"components"`
}

type oaInfo struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	Version     string `json:"version"`
}

type oaServer struct {
	URL string `json:"url"`
}

type oaTag struct {
	Name string `json:"name"`
}

type oaComponents struct {
	SecuritySchemes map[string]oaSecurityScheme `json:"securitySchemes,omitempty"`
}

type oaSecurityScheme struct {
	Type         string `json:"type"`
	Scheme       string `json:"scheme"`
	BearerFormat string `json:"bearerFormat,omitempty"`
}

type oaOperation struct {
	OperationID string                `json:"operationId"`
	Summary     string                `json:"summary"`
	Tags        []string              `json:"tags"`
	Parameters  []oaParameter         `json:"parameters,omitempty"`
	Security    []map[string][]string `json:"security,omitempty"`
	Responses   map[string]oaResponse `json:"responses"`
}

type oaParameter struct {
	Name     string   `json:"name"`
	In       string   `json:"in"`
	Required bool     `json:"required"`
	Schema   oaSchema `json:"schema"`
}

type oaSchema struct {
	Type string `json:"type"`
}

type oaResponse struct {
	Description string `json:"description"`
}

// buildOpenAPI encodes the documents for routes.
func buildOpenAPI(endpoint string, routes []registeredRoute) openAPIDocs {
	titles := map[string]string{
		pathSwagger:           "Latch Management API",
		pathExperienceOpenAPI: "Latch Experience API",
		pathUserOpenAPI:       "Latch Account API",
	}
	docs := map[string]*oaDocument{}
	tags := map[string]map[string]bool{}
	for section, title := range titles {
		docs[section] = &oaDocument{
			OpenAPI: openAPIVersion,
			Info: oaInfo{Title: title, Version: "Cloud",
				Description: "Generated from the routes Latch registers; schemas are minimal (operation ids, summaries, tags, path parameters)."},
			Servers: []oaServer{{URL: endpoint}},
			Paths:   map[string]map[string]oaOperation{},
			Components: oaComponents{SecuritySchemes: map[string]oaSecurityScheme{
				openAPIBearerSchemeName: {Type: "http", Scheme: "bearer", BearerFormat: "JWT"},
			}},
		}
		tags[section] = map[string]bool{}
	}
	for _, rt := range routes {
		section := openAPISection(rt.path)
		d := docs[section]
		doc := routeDocs[rt.method+" "+rt.path]
		op := oaOperation{
			OperationID: doc.OperationID,
			Summary:     doc.Summary,
			Tags:        []string{doc.Tag},
			Responses:   map[string]oaResponse{"default": {Description: "See the API reference of Logto for the shapes."}},
		}
		if op.OperationID == "" {
			op.OperationID = operationID(rt.method, rt.path)
		}
		if op.Tags[0] == "" {
			op.Tags[0] = pathTag(rt.path)
		}
		var oaPath strings.Builder
		for seg := range strings.SplitSeq(strings.TrimPrefix(rt.path, "/"), "/") {
			oaPath.WriteByte('/')
			if seg != "" && (seg[0] == ':' || seg[0] == '*') {
				op.Parameters = append(op.Parameters, oaParameter{Name: seg[1:], In: "path", Required: true, Schema: oaSchema{Type: "string"}})
				seg = "{" + seg[1:] + "}"
			}
			oaPath.WriteString(seg)
		}
		if isManagementRoute(rt.path) {
			op.Security = []map[string][]string{{openAPIBearerSchemeName: {}}}
		}
		p := oaPath.String()
		if d.Paths[p] == nil {
			d.Paths[p] = map[string]oaOperation{}
		}
		d.Paths[p][strings.ToLower(rt.method)] = op
		tags[section][op.Tags[0]] = true
	}
	out := openAPIDocs{}
	for section, d := range docs {
		for t := range tags[section] {
			d.Tags = append(d.Tags, oaTag{Name: t})
		}
		sort.Slice(d.Tags, func(i, j int) bool { return d.Tags[i].Name < d.Tags[j].Name })
		b, err := json.Marshal(d)
		if err != nil {
			panic(err) // maps and strings always marshal
		}
		out[section] = b
	}
	out[pathManagementOpenAPI] = out[pathSwagger]
	return out
}

// isManagementRoute reports a route behind the Management API's bearer token.
func isManagementRoute(path string) bool {
	if !strings.HasPrefix(path, "/api/") || openAPISection(path) != pathSwagger {
		return false
	}
	switch path {
	case "/api/status", "/api/cluster", pathSwagger, pathManagementOpenAPI, pathExperienceOpenAPI, pathUserOpenAPI, pathWellKnownSignInExp:
		return false
	}
	return true
}

// pathTag is Logto's tag for a path: its first segment after /api (or the root), in
// sentence case ("organization-roles" -> "Organization roles").
func pathTag(path string) string {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	first := segs[0]
	if first == "api" && len(segs) > 1 {
		first = segs[1]
	}
	switch first {
	case "oidc":
		return "OIDC"
	case "", ".well-known", "swagger.json":
		return "Well-known"
	case "healthz", "readyz", "metrics", "status":
		return "Operations"
	case "sign-in", "register", "ui", "mfa-verification", "mfa-binding":
		return "Sign-in pages"
	}
	words := strings.ReplaceAll(first, "-", " ")
	return strings.ToUpper(words[:1]) + words[1:]
}

// operationID is Logto's buildOperationId: Verb + the singular PascalCase name of each
// (name, :param) pair, + the last segment when it is not a parameter (List for a GET
// of a collection). Paths of another shape (the OIDC endpoints) get Verb + every
// literal segment.
func operationID(method, path string) string {
	verbs := map[string]string{"GET": "Get", "POST": "Create", "PUT": "Replace", "PATCH": "Update", "DELETE": "Delete", "OPTIONS": "Options", "HEAD": "Head"}
	segs := strings.Split(strings.TrimPrefix(strings.TrimPrefix(path, "/api"), "/"), "/")
	isParam := func(s string) bool { return s != "" && (s[0] == ':' || s[0] == '*') }
	last := segs[len(segs)-1]
	single := isParam(last)
	pairs := segs
	if !single {
		pairs = segs[:len(segs)-1]
	}
	shaped := strings.HasPrefix(path, "/api/") && len(pairs)%2 == 0
	for i := 0; shaped && i < len(pairs); i += 2 {
		shaped = !isParam(pairs[i]) && isParam(pairs[i+1])
	}
	if !shaped {
		var b strings.Builder
		b.WriteString(verbs[method])
		for _, s := range segs {
			if !isParam(s) {
				b.WriteString(pascal(s))
			}
		}
		return b.String()
	}
	var b strings.Builder
	verb := verbs[method]
	if !single && method == http.MethodGet {
		verb = "List"
	}
	b.WriteString(verb)
	for i := 0; i < len(pairs); i += 2 {
		b.WriteString(pascal(singular(pairs[i])))
	}
	if !single {
		if method == http.MethodPost {
			last = singular(last)
		}
		b.WriteString(pascal(last))
	}
	return b.String()
}

// pascal turns "email-domains" or ".well-known" into "EmailDomains", "WellKnown".
func pascal(s string) string {
	var b strings.Builder
	for w := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == '-' || r == '.' || r == '_' }) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

// singular is the plural rule Latch's paths need ("organizations" -> "organization",
// "identities" -> "identity").
func singular(s string) string {
	switch {
	case strings.HasSuffix(s, "ies"):
		return strings.TrimSuffix(s, "ies") + "y"
	case strings.HasSuffix(s, "ss"):
		return s
	}
	return strings.TrimSuffix(s, "s")
}
