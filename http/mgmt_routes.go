package httpapi

import (
	"slices"

	"github.com/latchid/latch/directory"
)

// routesManagement registers the Management API (Logto's /api, OSS subset: users,
// applications, API resources and scopes, roles). Every route goes through
// s.management, which authorizes the bearer token. Path parameter names are one per
// prefix because httprouter allows a single wildcard name per segment: :id for
// applications, resources and roles, :userId for users (Logto's own names differ in
// a few places, which does not show on the wire).
func (s *Server) routesManagement(r *routeTable) {
	for _, rt := range slices.Concat(s.managementRoutes(), s.logRoutes(), s.hookRoutes()) { // mgmt_logs.go, mgmt_hooks.go
		r.Handle(rt.method, rt.path, s.management(s.auditWrite(rt.method, s.hookWrite(rt.method, rt.path, rt.h)))) // mgmt_hooks_emit.go
	}
	r.GET(pathWellKnownSignInExp, s.public(s.wellKnownSignInExp)) // mgmt_signinexp.go
}

type mgmtRoute struct {
	method, path string
	h            apiHandler
}

func (s *Server) managementRoutes() []mgmtRoute {
	return append([]mgmtRoute{
		{"GET", "/api/applications", s.listApplications},
		{"POST", "/api/applications", s.createApplication},
		{"GET", "/api/applications/:id", s.getApplication},
		{"PATCH", "/api/applications/:id", s.patchApplication},
		{"DELETE", "/api/applications/:id", s.deleteApplication},
		{"GET", "/api/applications/:id/secrets", s.listApplicationSecrets},
		{"POST", "/api/applications/:id/secrets", s.createApplicationSecret},
		{"PATCH", "/api/applications/:id/secrets/:name", s.patchApplicationSecret},
		{"DELETE", "/api/applications/:id/secrets/:name", s.deleteApplicationSecret},
		{"PATCH", "/api/applications/:id/custom-data", s.patchApplicationCustomData},
		{"DELETE", "/api/applications/:id/legacy-secret", s.deleteApplicationLegacySecret},
		{"GET", "/api/applications/:id/protected-app-metadata/custom-domains", s.protectedAppOnly},
		{"POST", "/api/applications/:id/protected-app-metadata/custom-domains", s.protectedAppOnly},
		{"DELETE", "/api/applications/:id/protected-app-metadata/custom-domains/:domain", s.protectedAppOnly},
		{"GET", "/api/applications/:id/roles", s.listApplicationRoles},
		{"POST", "/api/applications/:id/roles", s.assignApplicationRoles},
		{"PUT", "/api/applications/:id/roles", s.replaceApplicationRoles},
		{"DELETE", "/api/applications/:id/roles/:roleId", s.unassignApplicationRole},

		{"GET", "/api/users", s.listUsers},
		{"POST", "/api/users", s.createUser},
		{"GET", "/api/users/:userId", s.getUser},
		{"PATCH", "/api/users/:userId", s.patchUser},
		{"DELETE", "/api/users/:userId", s.deleteUser},
		{"PATCH", "/api/users/:userId/password", s.setUserPassword},
		{"PATCH", "/api/users/:userId/password/expiration", s.setUserPasswordExpiration},
		{"POST", "/api/users/:userId/password/verify", s.verifyUserPassword},
		{"GET", "/api/users/:userId/has-password", s.userHasPassword},
		{"PATCH", "/api/users/:userId/is-suspended", s.setUserSuspended},
		{"GET", "/api/users/:userId/custom-data", s.getUserCustomData},
		{"PATCH", "/api/users/:userId/custom-data", s.patchUserCustomData},
		{"PATCH", "/api/users/:userId/profile", s.patchUserProfile},
		{"GET", "/api/users/:userId/logto-configs", s.getUserLogtoConfigs},
		{"PATCH", "/api/users/:userId/logto-configs", s.patchUserLogtoConfigs},
		{"GET", "/api/users/:userId/roles", s.listUserRoles},
		{"POST", "/api/users/:userId/roles", s.assignUserRoles},
		{"PUT", "/api/users/:userId/roles", s.replaceUserRoles},
		{"DELETE", "/api/users/:userId/roles/:roleId", s.unassignUserRole},
		{"GET", "/api/users/:userId/sessions", s.listUserSessions},
		{"GET", "/api/users/:userId/sessions/:sessionId", s.getUserSession},
		{"DELETE", "/api/users/:userId/sessions/:sessionId", s.deleteUserSession},
		{"GET", "/api/users/:userId/grants", s.listUserGrants},
		{"DELETE", "/api/users/:userId/grants/:grantId", s.deleteUserGrant},
		{"GET", "/api/users/:userId/personal-access-tokens", s.listPersonalAccessTokens},           // mgmt_pats.go
		{"POST", "/api/users/:userId/personal-access-tokens", s.createPersonalAccessToken},         // mgmt_pats.go
		{"PATCH", "/api/users/:userId/personal-access-tokens", s.renamePersonalAccessToken},        // mgmt_pats.go
		{"POST", "/api/users/:userId/personal-access-tokens/:name", s.postPersonalAccessTokensSub}, // = .../delete
		{"PATCH", "/api/users/:userId/personal-access-tokens/:name", s.renamePersonalAccessToken},
		{"DELETE", "/api/users/:userId/personal-access-tokens/:name", s.deletePersonalAccessToken},
		{"POST", "/api/subject-tokens", s.createSubjectToken},

		{"GET", "/api/resources", s.listResources},
		{"POST", "/api/resources", s.createResource},
		{"GET", "/api/resources/:id", s.getResource},
		{"PATCH", "/api/resources/:id", s.patchResource},
		{"DELETE", "/api/resources/:id", s.deleteResource},
		{"PATCH", "/api/resources/:id/is-default", s.setResourceDefault},
		{"GET", "/api/resources/:id/scopes", s.listResourceScopes},
		{"POST", "/api/resources/:id/scopes", s.createResourceScope},
		{"PATCH", "/api/resources/:id/scopes/:scopeId", s.patchResourceScope},
		{"DELETE", "/api/resources/:id/scopes/:scopeId", s.deleteResourceScope},

		{"GET", "/api/roles", s.listRoles},
		{"POST", "/api/roles", s.createRole},
		{"GET", "/api/roles/:id", s.getRole},
		{"PATCH", "/api/roles/:id", s.patchRole},
		{"DELETE", "/api/roles/:id", s.deleteRole},
		{"GET", "/api/roles/:id/scopes", s.listRoleScopes},
		{"POST", "/api/roles/:id/scopes", s.addRoleScopes},
		{"DELETE", "/api/roles/:id/scopes/:scopeId", s.removeRoleScope},
		{"GET", "/api/roles/:id/users", s.listRoleUsers},
		{"POST", "/api/roles/:id/users", s.addRoleUsers},
		{"DELETE", "/api/roles/:id/users/:userId", s.removeRoleUser},
		{"GET", "/api/roles/:id/applications", s.listRoleApplications},
		{"POST", "/api/roles/:id/applications", s.addRoleApplications},
		{"DELETE", "/api/roles/:id/applications/:applicationId", s.removeRoleApplication},

		{"GET", "/api/configs/oidc/:keyType", s.listOIDCKeys},
		{"POST", "/api/configs/oidc/:keyType/rotate", s.rotateOIDCKeys},
		{"DELETE", "/api/configs/oidc/:keyType/:keyId", s.deleteOIDCKey},

		{"GET", "/api/configs/jwt-customizer", s.listJwtCustomizers},
		{"GET", "/api/configs/jwt-customizer/:tokenTypePath", s.getJwtCustomizer},
		{"PUT", "/api/configs/jwt-customizer/:tokenTypePath", s.putJwtCustomizer},
		{"PATCH", "/api/configs/jwt-customizer/:tokenTypePath", s.patchJwtCustomizer},
		{"DELETE", "/api/configs/jwt-customizer/:tokenTypePath", s.deleteJwtCustomizer},
		{"POST", "/api/configs/jwt-customizer/test", s.testJwtCustomizer},

		{"GET", "/api/account-center", s.getAccountCenter},
		{"PATCH", "/api/account-center", s.patchAccountCenter},
		{"GET", "/api/sign-in-exp", s.getSignInExp},
		{"PATCH", "/api/sign-in-exp", s.patchSignInExp},
		{"POST", "/api/sign-in-exp/default/check-password", s.checkPassword},
	}, slices.Concat(s.organizationRoutes(), s.connectorRoutes(), s.consentScopeRoutes(), s.userMfaRoutes(), s.consentOrganizationRoutes(), s.appSignInExperienceRoutes(), s.appAccessControlRoutes(), s.userIdentityRoutes(), s.userTrustedDeviceRoutes())...) // mgmt_connectors.go, mgmt_consent.go, mgmt_user_mfa.go, mgmt_applications_consent_orgs.go, mgmt_applications_signinexp.go, mgmt_applications_access_control.go, mgmt_users_identities.go, mgmt_users_trusted_devices.go
}

// organizationRoutes are Logto's organization groups (mgmt_organizations*.go). POST
// .../users/roles and .../applications/roles share their tree position with
// .../users/:userId and .../applications/:applicationId (httprouter allows one), so
// those two POSTs go through a handler that tells the segment apart.
func (s *Server) organizationRoutes() []mgmtRoute {
	roleScopes := roleScopeRoutes{s: s, set: directory.OrgScopes, field: "organizationScopeIds", param: "organizationScopeId"}
	roleResourceScopes := roleScopeRoutes{s: s, set: directory.ResourceScopes, field: "scopeIds", param: "scopeId"}
	users := memberRoutes{s: s, kind: directory.MemberUser, param: "userId", field: "userIds", echoIDs: true, roleNames: true}
	apps := memberRoutes{s: s, kind: directory.MemberApp, param: "applicationId", field: "applicationIds"}
	return []mgmtRoute{
		{"GET", "/api/organizations", s.listOrganizations},
		{"POST", "/api/organizations", s.createOrganization},
		{"GET", "/api/organizations/:id", s.getOrganization},
		{"PATCH", "/api/organizations/:id", s.patchOrganization},
		{"DELETE", "/api/organizations/:id", s.deleteOrganization},
		{"GET", "/api/organizations/:id/users", s.listOrganizationUsers},
		{"POST", "/api/organizations/:id/users", users.add},
		{"PUT", "/api/organizations/:id/users", users.replace},
		{"POST", "/api/organizations/:id/users/:userId", users.postSub}, // = .../users/roles
		{"DELETE", "/api/organizations/:id/users/:userId", users.remove},
		{"GET", "/api/organizations/:id/users/:userId/roles", users.listRoles},
		{"POST", "/api/organizations/:id/users/:userId/roles", users.assignRoles},
		{"PUT", "/api/organizations/:id/users/:userId/roles", users.replaceRoles},
		{"DELETE", "/api/organizations/:id/users/:userId/roles/:organizationRoleId", users.unassignRole},
		{"GET", "/api/organizations/:id/users/:userId/scopes", s.listOrganizationUserScopes},
		{"GET", "/api/organizations/:id/applications", s.listOrganizationApplications},
		{"POST", "/api/organizations/:id/applications", apps.add},
		{"PUT", "/api/organizations/:id/applications", apps.replace},
		{"POST", "/api/organizations/:id/applications/:applicationId", apps.postSub}, // = .../applications/roles
		{"DELETE", "/api/organizations/:id/applications/:applicationId", apps.remove},
		{"GET", "/api/organizations/:id/applications/:applicationId/roles", apps.listRoles},
		{"POST", "/api/organizations/:id/applications/:applicationId/roles", apps.assignRoles},
		{"PUT", "/api/organizations/:id/applications/:applicationId/roles", apps.replaceRoles},
		{"DELETE", "/api/organizations/:id/applications/:applicationId/roles/:organizationRoleId", apps.unassignRole},
		{"GET", "/api/organizations/:id/jit/email-domains", s.listOrganizationJITEmailDomains},
		{"POST", "/api/organizations/:id/jit/email-domains", s.addOrganizationJITEmailDomain},
		{"PUT", "/api/organizations/:id/jit/email-domains", s.replaceOrganizationJITEmailDomains},
		{"DELETE", "/api/organizations/:id/jit/email-domains/:emailDomain", s.removeOrganizationJITEmailDomain},
		{"GET", "/api/organizations/:id/jit/roles", s.listOrganizationJITRoles},
		{"POST", "/api/organizations/:id/jit/roles", s.addOrganizationJITRoles},
		{"PUT", "/api/organizations/:id/jit/roles", s.replaceOrganizationJITRoles},
		{"DELETE", "/api/organizations/:id/jit/roles/:organizationRoleId", s.removeOrganizationJITRole},
		{"GET", "/api/organizations/:id/jit/sso-connectors", s.listOrganizationJITSSOConnectors},
		{"POST", "/api/organizations/:id/jit/sso-connectors", s.addOrganizationJITSSOConnectors},
		{"PUT", "/api/organizations/:id/jit/sso-connectors", s.replaceOrganizationJITSSOConnectors},
		{"DELETE", "/api/organizations/:id/jit/sso-connectors/:ssoConnectorId", s.removeOrganizationJITSSOConnector},

		{"GET", "/api/organization-roles", s.listOrganizationRoles},
		{"POST", "/api/organization-roles", s.createOrganizationRole},
		{"GET", "/api/organization-roles/:id", s.getOrganizationRole},
		{"PATCH", "/api/organization-roles/:id", s.patchOrganizationRole},
		{"DELETE", "/api/organization-roles/:id", s.deleteOrganizationRole},
		{"GET", "/api/organization-roles/:id/scopes", roleScopes.list},
		{"POST", "/api/organization-roles/:id/scopes", roleScopes.add},
		{"PUT", "/api/organization-roles/:id/scopes", roleScopes.replace},
		{"DELETE", "/api/organization-roles/:id/scopes/:organizationScopeId", roleScopes.remove},
		{"GET", "/api/organization-roles/:id/resource-scopes", roleResourceScopes.list},
		{"POST", "/api/organization-roles/:id/resource-scopes", roleResourceScopes.add},
		{"PUT", "/api/organization-roles/:id/resource-scopes", roleResourceScopes.replace},
		{"DELETE", "/api/organization-roles/:id/resource-scopes/:scopeId", roleResourceScopes.remove},

		{"GET", "/api/organization-scopes", s.listOrganizationScopes},
		{"POST", "/api/organization-scopes", s.createOrganizationScope},
		{"GET", "/api/organization-scopes/:id", s.getOrganizationScope},
		{"PATCH", "/api/organization-scopes/:id", s.patchOrganizationScope},
		{"DELETE", "/api/organization-scopes/:id", s.deleteOrganizationScope},

		{"GET", "/api/organization-invitations", s.listOrganizationInvitations},
		{"POST", "/api/organization-invitations", s.createOrganizationInvitation},
		{"GET", "/api/organization-invitations/:id", s.getOrganizationInvitation},
		{"DELETE", "/api/organization-invitations/:id", s.deleteOrganizationInvitation},
		{"POST", "/api/organization-invitations/:id/message", s.sendOrganizationInvitationMessage},
		{"PUT", "/api/organization-invitations/:id/status", s.setOrganizationInvitationStatus},

		{"GET", "/api/users/:userId/organizations", s.listUserOrganizations},
		{"GET", "/api/applications/:id/organizations", s.listApplicationOrganizations},
	}
}
