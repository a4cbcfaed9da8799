// node-oidc-provider, the OpenID Provider library inside Logto, set up as a peer for
// `latch bench --target generic`: the same workload Latch gets in `make bench-peers`.
//
// - issuer http://127.0.0.1:$PORT (loopback only; PORT=0 picks a free port, and the line
//   below names it); run it with NODE_ENV=production, as a deployment would;
// - one confidential client ($CLIENT_ID / $CLIENT_SECRET, authenticating with
//   $AUTH_METHOD, client_secret_basic by default) with the client_credentials grant and
//   the scope $SCOPE;
// - one API resource ($RESOURCE, RFC 8707) whose access tokens are JWTs signed with
//   ES256 (RFC 9068), as Latch's are at its default --signing-alg;
// - a client_credentials request without a resource gets an opaque token, kept in the
//   provider's in-memory adapter (the one node-oidc-provider ships; Logto swaps in
//   Postgres): what `latch bench introspect` introspects against a generic target;
// - introspection (RFC 7662) and revocation (RFC 7009) enabled.
//
// It prints one line, "ready <issuer>", on stdout when it listens. WORKERS=N (default 1)
// forks N processes sharing the port (node:cluster); each has its own in-memory store,
// so opaque tokens only introspect on the process that issued them: use WORKERS > 1
// for JWT client_credentials only.
import cluster from 'node:cluster';
import crypto from 'node:crypto';
import http from 'node:http';
import process from 'node:process';

import Provider, { errors } from 'oidc-provider';

const env = (name, fallback) => {
  const v = process.env[name];
  if (v === undefined || v === '') {
    if (fallback === undefined) {
      console.error(`node-oidc-provider peer: ${name} is required`);
      process.exit(2);
    }
    return fallback;
  }
  return v;
};

const port = Number(env('PORT', '3100'));
const host = '127.0.0.1';
const clientId = env('CLIENT_ID');
const clientSecret = env('CLIENT_SECRET');
const resource = env('RESOURCE', 'https://api.bench.example');
const scope = env('SCOPE', 'read:bench');
const workers = Number(env('WORKERS', '1'));
// client_secret_basic (latch bench --auth-method basic, its default) or client_secret_post.
const authMethod = env('AUTH_METHOD', 'client_secret_basic');

if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`node-oidc-provider peer: PORT ${process.env.PORT} is not a port`);
  process.exit(2);
}
if (!Number.isInteger(workers) || workers < 1) {
  console.error(`node-oidc-provider peer: WORKERS ${process.env.WORKERS} is not a positive integer`);
  process.exit(2);
}

if (cluster.isPrimary && workers > 1) {
  // One signing key for all workers, so every token verifies against the same JWKS.
  const key = signingKey();
  let ready = 0;
  for (let i = 0; i < workers; i += 1) {
    const w = cluster.fork({ PEER_SIGNING_KEY: JSON.stringify(key) });
    w.on('message', (m) => {
      if (typeof m === 'string' && m.startsWith('ready ') && (ready += 1) === workers) console.log(m);
    });
  }
  cluster.on('exit', (w, code, signal) => {
    console.error(`node-oidc-provider peer: worker ${w.process.pid} exited (${signal || code})`);
    process.exit(1);
  });
  for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, () => {
      for (const w of Object.values(cluster.workers)) w.kill('SIGTERM');
      process.exit(0);
    });
  }
} else {
  serve(process.env.PEER_SIGNING_KEY ? JSON.parse(process.env.PEER_SIGNING_KEY) : signingKey());
}

// signingKey makes a fresh P-256 key as a private JWK for ES256.
function signingKey() {
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, alg: 'ES256', use: 'sig', kid: crypto.randomBytes(8).toString('hex') };
}

// serve listens first, so that the issuer names the port actually bound (PORT=0), then
// builds the provider for that issuer; nothing is served before it exists.
function serve(jwk) {
  let handle = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = http.createServer((req, res) => handle(req, res));
  server.keepAliveTimeout = 65_000;
  server.listen(port, host, () => {
    const issuer = `http://${host}:${server.address().port}`;
    handle = newProvider(issuer, jwk).callback();
    if (cluster.isWorker) process.send(`ready ${issuer}`);
    else console.log(`ready ${issuer}`);
  });
  for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, () => server.close(() => process.exit(0)));
  }
}

function newProvider(issuer, jwk) {
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: authMethod,
        id_token_signed_response_alg: 'ES256',
        scope,
      },
    ],
    jwks: { keys: [jwk] },
    scopes: [scope],
    enabledJWA: { idTokenSigningAlgValues: ['ES256'] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => false,
        getResourceServerInfo: (_ctx, indicator) => {
          if (indicator !== resource) throw new errors.InvalidTarget();
          return {
            scope,
            audience: resource,
            accessTokenTTL: 3600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
    },
    ttl: { ClientCredentials: 3600 },
  });
  provider.on('server_error', (_ctx, err) => console.error('node-oidc-provider peer: server_error', err));

  return provider;
}
