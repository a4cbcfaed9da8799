package op

import (
	"net/http"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow/oauth"
)

// Application-level access control (Logto's assertUserHasApplicationAccess): once an
// application turns it on (directory.Application.AppLevelAccessControlEnabled), only
// the users its rules allow (Directory.UserHasAppAccess) sign in to it or get tokens
// for it. Checked where Logto checks it:
//   - sign-in: Resume, after the interaction is submitted and before a code is issued,
//     shows access_denied to the user (Logto's consent page shows "access denied"),
//     the consent page of a third-party app likewise (pendingConsent);
//   - an authorization answered from a live session (Authorize) sends access_denied
//     to the client's redirect URI (Logto's loadExistingGrant);
//   - refresh_token and token exchange grants: 400 access_denied (Logto's
//     oidc.access_denied), so that revoking a user's access also stops the tokens the
//     user already holds from being renewed.

// errAppAccessDenied is the error of every check; a direct answer is a 400, as Logto's.
func errAppAccessDenied() *oauth.Error {
	return &oauth.Error{Code: oauth.CodeAccessDenied, Status: http.StatusBadRequest,
		Description: "the user is not allowed to access this application"}
}

// checkAppAccess is nil when userID may use appID.
func checkAppAccess(dir *directory.Directory, appID, userID string) error {
	if dir.UserHasAppAccess(appID, userID) {
		return nil
	}
	return errAppAccessDenied()
}

// AppAccess is the access-control check as a predicate for the RefreshFamily grain
// (actors.Options.AppAccess), which asks it before a refresh rotates.
func AppAccess(dir *directory.Directory) func(clientID, accountID string) error {
	return func(clientID, accountID string) error { return checkAppAccess(dir, clientID, accountID) }
}
