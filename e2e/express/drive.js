// Plays a browser against the Express sample (app.js) and Latch, without a browser:
// fetch with manual redirects and a small cookie jar that, like a browser, keys cookies
// by host and path but not by port (so the app's and Latch's cookies share 127.0.0.1).
//
//   APP_URL          the sample's base URL (default http://127.0.0.1:3000)
//   LATCH_USERNAME   a user that can sign in with a password (required)
//   LATCH_PASSWORD   its password (required)
//   LOGTO_ENDPOINT   Latch's endpoint; when set, the issuer and the sign-in page's origin are checked
//   LOGTO_APP_ID     when set, the authorization request's client_id and the ID token's aud are checked
//   EXPECT_SUB       when set, the user id every token and userinfo must name
//   EXPECT_CUSTOM_DATA  JSON; when set, userinfo's custom_data must equal it
//   LOGTO_RESOURCE   when set, /token must return a JWT with this aud, signed by a key in Latch's JWKS
//   EXPECT_SCOPE     when set, a scope that JWT must carry
//   EXPECT_ORGANIZATION  when set, an organization id: the SDK must ask for
//                    urn:logto:resource:organizations, the ID token and userinfo must name the
//                    organization, and /organizations must return its organization token
//   EXPECT_ORGANIZATION_ROLE   the user's role name in it (organization_roles)
//   EXPECT_ORGANIZATION_SCOPE  the organization scope its organization token must carry
//
// Prints every hop; exits 1 with "FAIL: ..." at the first failed check.

import crypto from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';

const env = (name, fallback) => {
  const value = process.env[name];
  if (value !== undefined && value !== '') {
    return value;
  }
  if (fallback === undefined) {
    fail(`environment variable ${name} is required`);
  }
  return fallback;
};

class CheckFailed extends Error {}

function fail(message) {
  throw new CheckFailed(message);
}

function check(condition, message) {
  if (!condition) {
    fail(message);
  }
}

const show = (value) => JSON.stringify(value);
const log = (line) => console.log(line);

// ---- cookie jar (RFC 6265, the parts a browser uses here) ----

class CookieJar {
  #cookies = []; // {name, value, domain, hostOnly, path, expires, secure}

  static #defaultPath(url) {
    const path = url.pathname;
    if (!path.startsWith('/') || path.lastIndexOf('/') === 0) {
      return '/';
    }
    return path.slice(0, path.lastIndexOf('/'));
  }

  static #pathMatches(requestPath, cookiePath) {
    if (requestPath === cookiePath) {
      return true;
    }
    return (
      requestPath.startsWith(cookiePath) &&
      (cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/')
    );
  }

  static #domainMatches(host, cookie) {
    if (cookie.hostOnly) {
      return host === cookie.domain;
    }
    return host === cookie.domain || host.endsWith(`.${cookie.domain}`);
  }

  store(url, setCookieHeaders) {
    for (const header of setCookieHeaders) {
      const [pair, ...attributes] = header.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) {
        continue;
      }
      const cookie = {
        name: pair.slice(0, eq).trim(),
        value: pair.slice(eq + 1).trim(),
        domain: url.hostname,
        hostOnly: true,
        path: CookieJar.#defaultPath(url),
        expires: Infinity,
        secure: false,
      };
      let maxAgeSeen = false;
      for (const attribute of attributes) {
        const [rawKey, ...rest] = attribute.split('=');
        const key = rawKey.trim().toLowerCase();
        const value = rest.join('=').trim();
        if (key === 'path' && value.startsWith('/')) {
          cookie.path = value;
        } else if (key === 'domain' && value) {
          cookie.domain = value.replace(/^\./, '').toLowerCase();
          cookie.hostOnly = false;
        } else if (key === 'max-age' && /^-?\d+$/.test(value)) {
          maxAgeSeen = true;
          cookie.expires = Number(value) <= 0 ? 0 : Date.now() + Number(value) * 1000;
        } else if (key === 'expires' && !maxAgeSeen) {
          const at = Date.parse(value);
          if (!Number.isNaN(at)) {
            cookie.expires = at;
          }
        } else if (key === 'secure') {
          cookie.secure = true;
        }
      }
      if (!cookie.hostOnly && !CookieJar.#domainMatches(url.hostname, cookie)) {
        continue; // a browser ignores a Domain that does not cover the host
      }
      this.#cookies = this.#cookies.filter(
        (c) => !(c.name === cookie.name && c.domain === cookie.domain && c.path === cookie.path)
      );
      if (cookie.expires > Date.now()) {
        this.#cookies.push(cookie);
      }
    }
  }

  header(url) {
    const now = Date.now();
    this.#cookies = this.#cookies.filter((c) => c.expires > now);
    return this.#cookies
      .filter(
        (c) =>
          CookieJar.#domainMatches(url.hostname, c) &&
          CookieJar.#pathMatches(url.pathname, c.path) &&
          (!c.secure || url.protocol === 'https:')
      )
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  names(url) {
    return this.header(url)
      .split('; ')
      .filter(Boolean)
      .map((pair) => pair.split('=')[0]);
  }
}

// ---- a browser: requests with cookies, redirects followed by hand and printed ----

const jar = new CookieJar();
let hop = 0;

async function request(method, target, { body, headers = {}, quiet = false } = {}) {
  const url = new URL(target);
  const cookie = jar.header(url);
  const response = await fetch(url, {
    method,
    body,
    redirect: 'manual',
    headers: { ...headers, ...(cookie ? { cookie } : {}) },
  });
  jar.store(url, response.headers.getSetCookie());
  const location = response.headers.get('location');
  if (!quiet) {
    hop += 1;
    const where = location ? ` -> ${new URL(location, url)}` : '';
    log(`#${String(hop).padStart(2, '0')} ${method} ${url} => ${response.status}${where}`);
  }
  return response;
}

// Navigate like a browser's address bar: GET and follow redirects. A page that is only an
// auto-submitting form (what an OP may answer to /session/end) is submitted, as a
// browser running its script would. Returns the final response and the URLs visited.
async function navigate(start, { maxHops = 20 } = {}) {
  let url = new URL(start);
  let method = 'GET';
  let body;
  let headers = {};
  const visited = [];
  for (let i = 0; i < maxHops; i += 1) {
    visited.push(url);
    const response = await request(method, url.href, { body, headers });
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      const next = new URL(location, url);
      if (response.status === 307 || response.status === 308) {
        // method and body kept
      } else {
        method = 'GET';
        body = undefined;
        headers = {};
      }
      url = next;
      continue;
    }
    const type = response.headers.get('content-type') ?? '';
    if (response.status === 200 && type.includes('text/html')) {
      const html = await response.text();
      const form = autoSubmitForm(html, url);
      if (form) {
        log(`    page is an auto-submitting form: ${form.method} ${form.action} ${show(Object.fromEntries(form.fields))}`);
        method = form.method;
        url = form.action;
        if (method === 'POST') {
          body = new URLSearchParams(form.fields).toString();
          headers = { 'content-type': 'application/x-www-form-urlencoded', origin: url.origin };
        } else {
          for (const [k, v] of form.fields) {
            url.searchParams.append(k, v);
          }
          body = undefined;
          headers = {};
        }
        continue;
      }
      return { response, url, visited, text: html };
    }
    return { response, url, visited, text: await response.text() };
  }
  fail(`more than ${maxHops} redirects from ${start}: ${visited.map(String).join(' -> ')}`);
}

function autoSubmitForm(html, base) {
  // Only a page whose script submits its form counts (node-oidc-provider's logout and
  // form_post pages do); a sign-in page has a form too but waits for a person.
  if (!/\.submit\(\)|requestSubmit\(\)/.test(html)) {
    return null;
  }
  const formTag = /<form\b[^>]*>/i.exec(html)?.[0];
  if (!formTag) {
    return null;
  }
  const attr = (tag, name) =>
    new RegExp(`\\b${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i').exec(tag)?.slice(1).find((v) => v !== undefined);
  const decode = (s) =>
    (s ?? '').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  const fields = [];
  for (const input of html.match(/<input\b[^>]*>/gi) ?? []) {
    const name = attr(input, 'name');
    if (name) {
      fields.push([decode(name), decode(attr(input, 'value'))]);
    }
  }
  return {
    method: (attr(formTag, 'method') ?? 'GET').toUpperCase(),
    action: new URL(decode(attr(formTag, 'action') ?? base.href), base),
    fields,
  };
}

async function getJSON(target) {
  const response = await request('GET', target, { headers: { accept: 'application/json' } });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    fail(`GET ${target}: ${response.status}, not JSON: ${text.slice(0, 300)}`);
  }
  log(`    ${show(json).slice(0, 600)}`);
  return { status: response.status, json };
}

async function experience(method, origin, path, payload) {
  const response = await request(method, `${origin}${path}`, {
    body: payload === undefined ? undefined : JSON.stringify(payload),
    headers: {
      accept: 'application/json',
      origin, // a browser's fetch from the sign-in page sends its Origin
      ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
    },
  });
  const text = await response.text();
  let json;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }
  if (text) {
    log(`    ${text.slice(0, 300)}`);
  }
  return { status: response.status, json, text };
}

function decodeJwt(token) {
  const parts = String(token).split('.');
  check(parts.length === 3, `not a compact JWS: ${String(token).slice(0, 60)}`);
  const [header, payload] = parts
    .slice(0, 2)
    .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')));
  return { header, payload, parts };
}

// Verify a JWS against a JWKS the way a resource server would (alg from the header,
// key by kid).
function verifyJws({ header, parts }, jwks) {
  const key = jwks.keys.find((k) => k.kid === header.kid);
  check(key, `no key with kid ${header.kid} in the JWKS (kids: ${jwks.keys.map((k) => k.kid).join(', ')})`);
  const data = Buffer.from(`${parts[0]}.${parts[1]}`);
  const signature = Buffer.from(parts[2], 'base64url');
  const publicKey = crypto.createPublicKey({ key, format: 'jwk' });
  const hash = { 256: 'sha256', 384: 'sha384', 512: 'sha512' }[header.alg?.slice(2)];
  check(hash && /^(ES|RS|PS)\d{3}$/.test(header.alg), `unexpected alg ${header.alg}`);
  let ok;
  if (header.alg.startsWith('ES')) {
    ok = crypto.verify(hash, data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature);
  } else if (header.alg.startsWith('PS')) {
    ok = crypto.verify(hash, data, { key: publicKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: crypto.constants.RSA_PSS_SALTLEN_DIGEST }, signature);
  } else {
    ok = crypto.verify(hash, data, publicKey, signature);
  }
  check(ok, `signature of the ${header.alg} token does not verify with key ${header.kid}`);
}

// ---- the flow ----

async function main() {
  const appUrl = env('APP_URL', 'http://127.0.0.1:3000').replace(/\/+$/, '');
  const username = env('LATCH_USERNAME');
  const password = env('LATCH_PASSWORD');
  const endpoint = env('LOGTO_ENDPOINT', '').replace(/\/+$/, '');
  const appId = env('LOGTO_APP_ID', '');
  const expectSub = env('EXPECT_SUB', '');
  const expectCustomDataRaw = env('EXPECT_CUSTOM_DATA', '');
  const resource = env('LOGTO_RESOURCE', '');
  const expectScope = env('EXPECT_SCOPE', '');
  const expectCustomData = expectCustomDataRaw ? JSON.parse(expectCustomDataRaw) : undefined;
  const expectOrganization = env('EXPECT_ORGANIZATION', '');
  const expectOrganizationRole = env('EXPECT_ORGANIZATION_ROLE', '');
  const expectOrganizationScope = env('EXPECT_ORGANIZATION_SCOPE', '');

  log(`== 0. the app answers and nobody is signed in (${appUrl})`);
  {
    const { status, json } = await getJSON(`${appUrl}/`);
    check(status === 200 && json.isAuthenticated === false, `GET / before sign-in: want 200 and isAuthenticated false, got ${status} ${show(json)}`);
  }

  log('== 1. sign-in: the app -> Latch /oidc/auth -> the sign-in page');
  const signIn = await navigate(`${appUrl}/logto/sign-in`);
  const authUrl = signIn.visited.find((u) => u.pathname.endsWith('/oidc/auth'));
  check(authUrl, `the app's /logto/sign-in did not lead to an /oidc/auth URL: ${signIn.visited.map(String).join(' -> ')}`);
  const q = authUrl.searchParams;
  log(`    authorization request: ${show(Object.fromEntries([...new Set(q.keys())].map((k) => [k, q.getAll(k).join(' | ')])))}`);
  if (endpoint) {
    check(authUrl.origin === new URL(endpoint).origin, `authorization endpoint ${authUrl.origin} is not on LOGTO_ENDPOINT ${endpoint}`);
  }
  check(q.get('response_type') === 'code' && q.get('code_challenge_method') === 'S256' && q.get('code_challenge'), 'the SDK did not send a code flow with PKCE S256');
  check(q.get('redirect_uri') === `${appUrl}/logto/sign-in-callback`, `redirect_uri ${q.get('redirect_uri')} is not ${appUrl}/logto/sign-in-callback`);
  const requestedScopes = (q.get('scope') ?? '').split(' ');
  for (const scope of ['openid', 'offline_access', 'profile', 'custom_data']) {
    check(requestedScopes.includes(scope), `the SDK did not ask for scope ${scope}: ${q.get('scope')}`);
  }
  if (appId) {
    check(q.get('client_id') === appId, `client_id ${q.get('client_id')} is not LOGTO_APP_ID ${appId}`);
  }
  if (resource) {
    check(q.getAll('resource').includes(resource), `the SDK did not send resource=${resource}`);
  }
  if (expectOrganization) {
    for (const scope of ['urn:logto:scope:organizations', 'urn:logto:scope:organization_roles']) {
      check(requestedScopes.includes(scope), `the SDK did not ask for scope ${scope}: ${q.get('scope')}`);
    }
    check(q.getAll('resource').includes('urn:logto:resource:organizations'), 'the SDK did not send resource=urn:logto:resource:organizations');
  }
  const page = signIn.url;
  check(
    /^\/(sign-in|register)\/?$/.test(page.pathname),
    `expected /oidc/auth to lead to Latch's /sign-in page, ended at ${page} with ${signIn.response.status}: ${signIn.text.slice(0, 300)}`
  );
  check(signIn.response.status === 200, `the sign-in page ${page} answered ${signIn.response.status}: ${signIn.text.slice(0, 300)}`);
  check((signIn.response.headers.get('content-type') ?? '').includes('text/html'), `the sign-in page is not HTML: ${signIn.response.headers.get('content-type')}`);
  check(jar.names(page).includes('_interaction'), `no _interaction cookie for ${page.origin} (have: ${jar.names(page).join(', ') || 'none'})`);
  const latch = page.origin;
  log(`    on the sign-in page ${page}; cookies for it: ${jar.names(page).join(', ')}`);

  log('== 2. the Experience API, as the sign-in page drives it');
  {
    const r = await experience('PUT', latch, '/api/experience', { interactionEvent: 'SignIn' });
    check(r.status === 204 || r.status === 200, `PUT /api/experience: want 204, got ${r.status} ${r.text}`);
  }
  {
    const r = await experience('POST', latch, '/api/experience/verification/password', {
      identifier: { type: 'username', value: username },
      password: `${password}-wrong`,
    });
    check(r.status >= 400 && r.status < 500, `a wrong password: want a 4xx, got ${r.status} ${r.text}`);
    check(!r.json?.verificationId, 'a wrong password returned a verificationId');
  }
  let verificationId;
  {
    const r = await experience('POST', latch, '/api/experience/verification/password', {
      identifier: { type: 'username', value: username },
      password,
    });
    check(r.status === 200 && typeof r.json?.verificationId === 'string', `password verification: want 200 {verificationId}, got ${r.status} ${r.text}`);
    ({ verificationId } = r.json);
  }
  {
    const r = await experience('POST', latch, '/api/experience/identification', { verificationId });
    check(r.status === 204 || r.status === 200, `identification: want 204, got ${r.status} ${r.text}`);
  }
  let redirectTo;
  {
    const r = await experience('POST', latch, '/api/experience/submit');
    check(r.status === 200 && typeof r.json?.redirectTo === 'string', `submit: want 200 {redirectTo}, got ${r.status} ${r.text}`);
    ({ redirectTo } = r.json);
  }

  log('== 3. resume the authorization -> the app\'s callback -> the app\'s home');
  const back = await navigate(new URL(redirectTo, latch).href);
  const callback = back.visited.find((u) => u.origin === new URL(appUrl).origin && u.pathname === '/logto/sign-in-callback');
  check(callback, `the flow did not reach the app's callback: ${back.visited.map(String).join(' -> ')}; last answer ${back.response.status} ${back.text.slice(0, 300)}`);
  check(callback.searchParams.get('code'), `callback without code: ${callback}`);
  check(callback.searchParams.get('state') === q.get('state'), `callback state ${callback.searchParams.get('state')} is not the request's ${q.get('state')}`);
  if (endpoint) {
    check(callback.searchParams.get('iss') === `${endpoint}/oidc`, `callback iss ${callback.searchParams.get('iss')} is not ${endpoint}/oidc`);
  }
  check(jar.names(new URL(latch)).includes('_session'), `no _session cookie after sign-in (have: ${jar.names(new URL(latch)).join(', ')})`);
  check(back.response.status === 200 && back.url.origin === new URL(appUrl).origin && back.url.pathname === '/', `after the callback: want 200 at ${appUrl}/, got ${back.response.status} at ${back.url}: ${back.text.slice(0, 300)}`);

  log('== 4. the app sees the user (ID token claims)');
  let sub;
  {
    const { status, json } = await getJSON(`${appUrl}/`);
    check(status === 200 && json.isAuthenticated === true, `GET /: want isAuthenticated true, got ${status} ${show(json)}`);
    const { claims } = json;
    check(typeof claims?.sub === 'string' && claims.sub, `no claims.sub: ${show(claims)}`);
    sub = claims.sub;
    if (expectSub) {
      check(sub === expectSub, `claims.sub ${sub} is not the user ${expectSub}`);
    }
    if (endpoint) {
      check(claims.iss === `${endpoint}/oidc`, `ID token iss ${claims.iss} is not ${endpoint}/oidc`);
    }
    if (appId) {
      check(claims.aud === appId || (Array.isArray(claims.aud) && claims.aud.includes(appId)), `ID token aud ${show(claims.aud)} is not ${appId}`);
    }
    check(claims.username === username, `claims.username (profile scope) ${show(claims.username)} is not ${username}`);
  }

  log('== 5. fetchUserInfo: userinfo with custom_data');
  {
    const { status, json } = await getJSON(`${appUrl}/user`);
    check(status === 200 && json.isAuthenticated === true, `GET /user: ${status} ${show(json)}`);
    check(json.claims?.sub === sub, `/user claims.sub ${json.claims?.sub} is not ${sub}`);
    check(json.userInfo && json.userInfo.sub === sub, `userInfo.sub ${show(json.userInfo?.sub)} is not ${sub}: ${show(json.userInfo)}`);
    if (expectCustomData !== undefined) {
      check(isDeepStrictEqual(json.userInfo.custom_data, expectCustomData), `userInfo.custom_data ${show(json.userInfo.custom_data)} is not ${show(expectCustomData)}`);
    } else {
      check('custom_data' in json.userInfo, `userInfo has no custom_data: ${show(json.userInfo)}`);
    }
  }

  if (resource) {
    log(`== 6. getAccessToken(${resource}): a JWT for the API resource (refresh_token grant)`);
    const { status, json } = await getJSON(`${appUrl}/token`);
    check(status === 200 && typeof json.accessToken === 'string', `GET /token: want 200 {accessToken}, got ${status} ${show(json)}`);
    const jwt = decodeJwt(json.accessToken);
    log(`    header ${show(jwt.header)}`);
    log(`    payload ${show(jwt.payload)}`);
    const aud = jwt.payload.aud;
    check(aud === resource || (Array.isArray(aud) && aud.includes(resource)), `access token aud ${show(aud)} is not ${resource}`);
    check(jwt.payload.sub === sub, `access token sub ${jwt.payload.sub} is not ${sub}`);
    check(jwt.payload.exp * 1000 > Date.now(), `access token already expired (exp ${jwt.payload.exp})`);
    if (endpoint) {
      check(jwt.payload.iss === `${endpoint}/oidc`, `access token iss ${jwt.payload.iss} is not ${endpoint}/oidc`);
    }
    if (expectScope) {
      const scopes = String(jwt.payload.scope ?? '').split(' ');
      check(scopes.includes(expectScope), `access token scope ${show(jwt.payload.scope)} lacks ${expectScope}`);
    }
    const discovery = await (await request('GET', `${latch}/oidc/.well-known/openid-configuration`)).json();
    const jwks = await (await request('GET', discovery.jwks_uri)).json();
    verifyJws(jwt, jwks);
    log(`    signature verifies with ${jwt.header.kid} from ${discovery.jwks_uri}`);
    const again = await getJSON(`${appUrl}/token`);
    check(again.status === 200 && typeof again.json.accessToken === 'string', `GET /token a second time: ${again.status} ${show(again.json)}`);
  }

  if (expectOrganization) {
    log(`== 6b. organizations: claims, organization_data, getOrganizationToken(${expectOrganization})`);
    const { status, json } = await getJSON(`${appUrl}/organizations`);
    check(status === 200 && json.isAuthenticated === true, `GET /organizations: want 200, got ${status} ${show(json)}`);
    check(isDeepStrictEqual(json.claims?.organizations, [expectOrganization]), `ID token organizations ${show(json.claims?.organizations)} is not [${expectOrganization}]`);
    if (expectOrganizationRole) {
      const want = `${expectOrganization}:${expectOrganizationRole}`;
      check(isDeepStrictEqual(json.claims?.organization_roles, [want]), `ID token organization_roles ${show(json.claims?.organization_roles)} is not [${want}]`);
    }
    const data = json.userInfo?.organization_data;
    check(Array.isArray(data) && data.length === 1 && data[0].id === expectOrganization && typeof data[0].name === 'string' && 'description' in data[0],
      `userinfo organization_data ${show(data)} is not [{id: ${expectOrganization}, name, description}]`);
    const token = json.organizationTokens?.[expectOrganization];
    check(typeof token === 'string', `no organization token for ${expectOrganization}: ${show(json.organizationTokens)}`);
    const jwt = decodeJwt(token);
    log(`    organization token payload ${show(jwt.payload)}`);
    check(jwt.payload.aud === `urn:logto:organization:${expectOrganization}`, `organization token aud ${show(jwt.payload.aud)} is not urn:logto:organization:${expectOrganization}`);
    check(jwt.payload.sub === sub, `organization token sub ${jwt.payload.sub} is not ${sub}`);
    check(jwt.payload.exp - jwt.payload.iat === 3600, `organization token lives ${jwt.payload.exp - jwt.payload.iat} s, not 3600`);
    if (expectOrganizationScope) {
      check(jwt.payload.scope === expectOrganizationScope, `organization token scope ${show(jwt.payload.scope)} is not ${expectOrganizationScope}`);
    }
    const discovery = await (await request('GET', `${latch}/oidc/.well-known/openid-configuration`)).json();
    verifyJws(jwt, await (await request('GET', discovery.jwks_uri)).json());
    log(`    organization token signature verifies with ${jwt.header.kid}`);
  }

  log('== 7. sign-out: the app -> Latch /oidc/session/end -> the app');
  const out = await navigate(`${appUrl}/logto/sign-out`);
  const endSession = out.visited.find((u) => u.pathname.endsWith('/oidc/session/end'));
  check(endSession, `sign-out did not go through /oidc/session/end: ${out.visited.map(String).join(' -> ')}`);
  log(`    end-session request: ${show(Object.fromEntries(endSession.searchParams))}`);
  check(out.url.origin === new URL(appUrl).origin, `sign-out did not come back to the app: ended at ${out.url} with ${out.response.status}: ${out.text.slice(0, 300)}`);
  check(out.response.status === 200, `the app's post sign-out page answered ${out.response.status}`);
  {
    const { status, json } = await getJSON(`${appUrl}/`);
    check(status === 200 && json.isAuthenticated === false, `GET / after sign-out: want isAuthenticated false, got ${status} ${show(json)}`);
  }

  log('== 8. Latch\'s session is over too: a new sign-in shows the sign-in page again');
  {
    const again = await navigate(`${appUrl}/logto/sign-in`);
    check(
      again.response.status === 200 && /^\/(sign-in|register)\/?$/.test(again.url.pathname) && again.url.origin === latch,
      `after sign-out, /logto/sign-in ended at ${again.url} (${again.response.status}) instead of Latch's sign-in page`
    );
  }

  log(`PASS: signed in as ${username} (${sub}) through Latch with @logto/express, read userinfo${resource ? ', got a resource token' : ''}${expectOrganization ? ', got an organization token' : ''}, signed out`);
}

try {
  await main();
} catch (error) {
  if (error instanceof CheckFailed) {
    console.error(`FAIL: ${error.message}`);
  } else {
    console.error('FAIL: unexpected error:', error);
  }
  process.exit(1);
}
