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
	return d.ensureBuiltinSPA(ctx, NewApplication{ID: DemoAppID, Name: DemoAppName, Description: demoAppDescription}, uri, uri)
}

// ensureBuiltinSPA creates the built-in SPA app (its ID, Name and Description) with the
// redirect URI and post-logout redirect URI, or adds them to it when it lacks them;
// it writes nothing when the application already has both. Another node creating it
// meanwhile is fine (ErrConflict: the one created is returned).
func (d *Directory) ensureBuiltinSPA(ctx context.Context, app NewApplication, redirect, postLogout string) (*Application, error) {
	if cur, ok := d.Application(app.ID); ok {
		if slices.Contains(cur.OIDCClientMetadata.RedirectURIs, redirect) &&
			slices.Contains(cur.OIDCClientMetadata.PostLogoutRedirectURIs, postLogout) {
			return cur, nil
		}
		return d.UpdateApplication(ctx, app.ID, func(a *Application) error {
			m := &a.OIDCClientMetadata
			if !slices.Contains(m.RedirectURIs, redirect) {
				m.RedirectURIs = append(m.RedirectURIs, redirect)
			}
			if !slices.Contains(m.PostLogoutRedirectURIs, postLogout) {
				m.PostLogoutRedirectURIs = append(m.PostLogoutRedirectURIs, postLogout)
			}
			return nil
		})
	}
	app.Type = AppSPA
	app.OIDCClientMetadata = OIDCClientMetadata{RedirectURIs: []string{redirect}, PostLogoutRedirectURIs: []string{postLogout}}
	created, _, err := d.CreateApplication(ctx, app)
	if errors.Is(err, ErrConflict) { // another node created it meanwhile
		if cur, ok := d.Application(app.ID); ok {
			return cur, nil
		}
	}
	return created, err
}
