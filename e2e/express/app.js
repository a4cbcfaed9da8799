// Logto's "Integrate Logto with Express" sample, configured against Latch from the
// environment. It is the guide's code (handleAuthRoutes, withLogto, express-session,
// cookie-parser) with the optional parts switched on: extra scopes, an API resource,
// fetchUserInfo and getAccessToken.
//
//   LOGTO_ENDPOINT    Latch's endpoint, e.g. http://127.0.0.1:3001 (required)
//   LOGTO_APP_ID      id of a Traditional application (required)
//   LOGTO_APP_SECRET  its secret (required)
//   PORT              port to listen on at 127.0.0.1 (default 3000)
//   BASE_URL          this app's public URL (default http://127.0.0.1:$PORT); register
//                     $BASE_URL/logto/sign-in-callback as a redirect URI and $BASE_URL
//                     itself as a post sign-out redirect URI
//   LOGTO_RESOURCE    an API resource indicator (optional), asked for at sign-in and by /token
//   LOGTO_SCOPES      extra scopes, space- or comma-separated (optional), e.g. read:orders
//   LOGTO_ORGANIZATIONS  "1" (optional): ask for UserScope.Organizations and
//                     UserScope.OrganizationRoles (the SDK then adds the resource
//                     urn:logto:resource:organizations), and serve /organizations
//   SESSION_SECRET    express-session secret (default: the guide's placeholder)
//
// The SDK's requests to Latch (discovery, token, userinfo, revocation; not the JWKS, which
// jose fetches by itself) are logged on stdout as "sdk -> ...".

import { handleAuthRoutes, withLogto, UserScope } from '@logto/express';
import cookieParser from 'cookie-parser';
import express from 'express';
import session from 'express-session';

const env = (name, fallback) => {
  const value = process.env[name];
  if (value !== undefined && value !== '') {
    return value;
  }
  if (fallback === undefined) {
    console.error(`app.js: environment variable ${name} is required`);
    process.exit(2);
  }
  return fallback;
};

const port = Number(env('PORT', '3000'));
const resource = env('LOGTO_RESOURCE', '');
const extraScopes = env('LOGTO_SCOPES', '')
  .split(/[\s,]+/)
  .filter(Boolean);

const organizations = env('LOGTO_ORGANIZATIONS', '') === '1';

const config = {
  endpoint: env('LOGTO_ENDPOINT').replace(/\/+$/, ''),
  appId: env('LOGTO_APP_ID'),
  appSecret: env('LOGTO_APP_SECRET'),
  baseUrl: env('BASE_URL', `http://127.0.0.1:${port}`).replace(/\/+$/, ''),
  // The SDK always adds openid, profile and offline_access.
  scopes: [
    UserScope.Email,
    UserScope.CustomData,
    ...(organizations ? [UserScope.Organizations, UserScope.OrganizationRoles] : []),
    ...extraScopes,
  ],
  resources: resource ? [resource] : [],
  fetchUserInfo: true,
};

// Log the SDK's back-channel traffic: @logto/node calls the global fetch, so wrapping it
// here sees those requests (a failed one with its error body).
const sdkFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const method = init?.method ?? 'GET';
  const url = String(input instanceof Request ? input.url : input);
  const body = typeof init?.body === 'string' ? init.body : '';
  const grant = /(?:^|&)grant_type=([^&]*)/.exec(body)?.[1];
  try {
    const response = await sdkFetch(input, init);
    console.log(`sdk -> ${method} ${url}${grant ? ` (${decodeURIComponent(grant)})` : ''}: ${response.status}`);
    if (!response.ok) {
      const text = await response.clone().text();
      console.log(`sdk    error body: ${text.slice(0, 500)}`);
    }
    return response;
  } catch (error) {
    console.log(`sdk -> ${method} ${url}: ${error}`);
    throw error;
  }
};

const app = express();
app.use(cookieParser());
app.use(
  session({
    secret: env('SESSION_SECRET', 'random_session_key'), // Replace with your own secret
    cookie: { maxAge: 14 * 24 * 60 * 60 * 1000 }, // In milliseconds
    resave: false,
    saveUninitialized: false,
  })
);
app.use(handleAuthRoutes(config));

const escapeHtml = (text) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

// Home: the guide's page for a browser, the same facts as JSON for scripts.
app.get('/', withLogto(config), (req, res) => {
  const { isAuthenticated, claims } = req.user;
  if (req.accepts(['json', 'html']) === 'html') {
    const links = isAuthenticated
      ? `<div>Hello ${escapeHtml(String(claims?.username ?? claims?.sub))}, <a href="/logto/sign-out">Sign Out</a></div>
<ul><li><a href="/user">/user</a> (claims and userinfo)</li>${
          resource ? `<li><a href="/token">/token</a> (access token for ${escapeHtml(resource)})</li>` : ''
        }</ul>`
      : '<div><a href="/logto/sign-in">Sign In</a></div>';
    res.type('html').send(`<!doctype html><title>Logto Express sample on Latch</title>
${links}<pre>${escapeHtml(JSON.stringify({ isAuthenticated, claims }, null, 2))}</pre>`);
    return;
  }
  res.json({ isAuthenticated, claims });
});

// Claims from the ID token plus the userinfo answer (custom_data needs userinfo).
app.get('/user', withLogto(config), (req, res) => {
  res.status(req.user.isAuthenticated ? 200 : 401).json(req.user);
});

// An access token for the API resource, as in the guide's "/fetch-access-token": the SDK
// uses the refresh token to get a JWT for `resource`.
app.get(
  '/token',
  withLogto({ ...config, fetchUserInfo: false, getAccessToken: true, resource }),
  (req, res) => {
    if (!resource) {
      res.status(404).json({ error: 'LOGTO_RESOURCE is not set' });
      return;
    }
    if (!req.user.isAuthenticated) {
      // getContext reports a failed getAccessToken as not authenticated; the sdk log
      // above this line says why.
      res.status(401).json({ isAuthenticated: false, error: 'no access token for the resource' });
      return;
    }
    const { accessToken, scopes } = req.user;
    res.json({ resource, accessToken, scopes });
  }
);

// Organizations, as in Logto's organization guide: the ID token's organizations and
// organization_roles, userinfo's organization_data, and an organization token for every
// organization of the user (getOrganizationToken: refresh_token with organization_id).
app.get(
  '/organizations',
  withLogto({ ...config, fetchUserInfo: true, getOrganizationToken: true }),
  (req, res) => {
    if (!organizations) {
      res.status(404).json({ error: 'LOGTO_ORGANIZATIONS is not set' });
      return;
    }
    const { isAuthenticated, claims, userInfo, organizationTokens } = req.user;
    res.status(isAuthenticated ? 200 : 401).json({ isAuthenticated, claims, userInfo, organizationTokens });
  }
);

// SDK errors (LogtoRequestError from Latch, LogtoClientError, jose verification errors)
// as JSON, so a script or a person sees what went wrong.
app.use((error, req, res, _next) => {
  console.error(`app: ${req.method} ${req.originalUrl}:`, error);
  res.status(500).json({
    error: error?.name ?? 'Error',
    code: error?.code,
    message: String(error?.message ?? error),
    cause: error?.cause ? String(error.cause?.message ?? error.cause) : undefined,
  });
});

app.listen(port, '127.0.0.1', (error) => {
  if (error) {
    console.error(`app.js: listen on 127.0.0.1:${port}: ${error.message}`);
    process.exit(1);
  }
  console.log(`Logto Express sample on ${config.baseUrl} (listening on 127.0.0.1:${port}), Logto endpoint ${config.endpoint}`);
});
