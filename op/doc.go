// Package op holds Latch's OAuth 2.0 / OpenID Connect flows, one file per flow:
// authorize and resume, the token endpoint by grant type, introspection, revocation,
// userinfo and end session. It sits between the HTTP edge and the grains
// (DESIGN.md: cmd -> http -> op -> (oidcflow, directory); actors implements op's
// interfaces).
//
// Each flow takes a typed request that http decoded and returns a typed result or a
// protocol error (*oauth.Error); it knows nothing of HTTP and nothing of protobuf. The
// state it needs from the grains is reached through small interfaces declared here
// (3-5 methods each, domain types only), which actors implements; every proto
// conversion lives in actors. zitadel/oidc's op.Server is the model.
package op
