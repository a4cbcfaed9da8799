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

// The token side (this package's files and what each one does):
//
//   - provider.go: Provider and its Config (directory, key ring, oidcflow.Lifetimes, the
//     grain interfaces, Now, Rand, Logger), built by cmd/latch and handed to http.
//   - grains.go: the interfaces op needs from the grains (Grants, AccessTokens,
//     RefreshFamilies) and their domain types; actors.Tokens implements them.
//   - token.go: the token endpoint: grant type, client authentication once
//     (client_auth.go), Logto's grant-type table (GrantAllowed), then one grant flow:
//     token_client_credentials.go (no grain), token_code.go (one Grant grain call:
//     GrantExchangeCode), token_refresh.go (one RefreshFamily grain call, which asks its
//     Grant), with token_user.go for what the user grants share (resource, JWT, ID token).
//   - introspect.go (RFC 7662), revoke.go (RFC 7009), userinfo.go (OIDC Core 5.3).
//   - organizations.go: Logto's organization rules (RFC 0001, 0006) that read the
//     directory: OrganizationAccess (the RefreshFamily grain's predicate, via
//     actors.Options), the isMfaRequired hook, the organization claims, and the role
//     scopes of organization and organization-level resource tokens, which
//     token_refresh.go and token_client_credentials.go mint.
//
// A refresh, end to end: http/oidc_token.go decodes the form and the Basic header into a
// TokenRequest -> Provider.Token authenticates the client and checks the grant table ->
// TokenRefresh checks resource and scope -> RefreshFamilies.UseRefreshToken
// (actors/op_tokens.go: one RefreshFamilyUse to the family's grain) -> the
// RefreshFamily grain (actors/refresh.go) checks the token, the target and the
// account's suspension, then writes its rotation while asking its Grant grain
// (GrantCheck, carrying the new opaque access token to store) -> back in op, a JWT for a
// requested resource and the ID token -> http encodes the TokenResponse.
