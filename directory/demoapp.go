package directory

import (
	"context"
	"errors"
	"slices"
)

// The demo application, Logto's built-in "demo-app": a public SPA client whose
// redirect URI and post-logout redirect URI are <endpoint>/demo-app, where Latch serves
// the demo pages (http/demo*.go). It is an ordinary application record, so the
// Management API lists it and an operator may change or delete it; EnsureDemoApp puts
// it back.
const (
	DemoAppID   = "demo-app"
	DemoAppName = "Demo app"
	// DemoAppPath is where the demo pages are served, under the endpoint.
	DemoAppPath = "/demo-app"

	demoAppDescription = "Logto's demo app: signs a user in through Latch's own flow and shows the tokens' claims."
)

// EnsureDemoApp creates the demo application when it does not exist, and adds
// <endpoint>/demo-app to its redirect and post-logout redirect URIs when they lack it
// (the endpoint changed since it was created). It writes nothing when the application
// is as it should be, and is safe to call on every start and from any node.
func (d *Directory) EnsureDemoApp(ctx context.Context, endpoint string) (*Application, error) {
	uri := endpoint + DemoAppPath
	if app, ok := d.Application(DemoAppID); ok {
		if slices.Contains(app.OIDCClientMetadata.RedirectURIs, uri) &&
			slices.Contains(app.OIDCClientMetadata.PostLogoutRedirectURIs, uri) {
			return app, nil
		}
		return d.UpdateApplication(ctx, DemoAppID, func(a *Application) error {
			m := &a.OIDCClientMetadata
			if !slices.Contains(m.RedirectURIs, uri) {
				m.RedirectURIs = append(m.RedirectURIs, uri)
			}
			if !slices.Contains(m.PostLogoutRedirectURIs, uri) {
				m.PostLogoutRedirectURIs = append(m.PostLogoutRedirectURIs, uri)
			}
			return nil
		})
	}
	app, _, err := d.CreateApplication(ctx, NewApplication{
		ID:          DemoAppID,
		Name:        DemoAppName,
		Description: demoAppDescription,
		Type:        AppSPA,
		OIDCClientMetadata: OIDCClientMetadata{
			RedirectURIs:           []string{uri},
			PostLogoutRedirectURIs: []string{uri},
		},
	})
	if errors.Is(err, ErrConflict) { // another node created it meanwhile
		if app, ok := d.Application(DemoAppID); ok {
			return app, nil
		}
	}
	return app, err
}
