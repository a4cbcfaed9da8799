// Latch shim for packages/integration-tests/src/api/api.ts of logto-io/logto.
// Logto's tests authenticate the Management API with a dev-only header
// (`development-user-id`); Latch has no such back door, so authedAdminApi carries a
// client_credentials token for https://default.logto.app/api (scope all) of the
// bootstrap admin app instead. Everything else is as upstream.
import { formUrlEncodedHeaders } from '@logto/shared';
import { appendPath } from '@silverhand/essentials';
import ky from 'ky';

import { logtoConsoleUrl, logtoUrl, logtoCloudUrl } from '#src/constants.js';

const api = ky.extend({
  prefixUrl: appendPath(new URL(logtoUrl), 'api'),
});

export default api;

export const baseApi = ky.extend({
  prefixUrl: new URL(logtoUrl),
});

type Token = { value: string; expiresAt: number };
// eslint-disable-next-line @silverhand/fp/no-let
let token: Token | undefined;

const managementToken = async (): Promise<string> => {
  if (token && token.expiresAt > Date.now() + 60_000) {
    return token.value;
  }
  const id = process.env.LATCH_ADMIN_CLIENT_ID ?? '';
  const secret = process.env.LATCH_ADMIN_CLIENT_SECRET ?? '';
  const response = await fetch(`${logtoUrl}/oidc/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
    },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      resource: 'https://default.logto.app/api',
      scope: 'all',
    }),
  });
  if (!response.ok) {
    throw new Error(`latch shim: token request failed: ${response.status} ${await response.text()}`);
  }
  const body = (await response.json()) as { access_token: string; expires_in: number };
  token = { value: body.access_token, expiresAt: Date.now() + body.expires_in * 1000 };
  return token.value;
};

const bearer = async (request: Request) => {
  request.headers.set('authorization', `Bearer ${await managementToken()}`);
};

// TODO: @gao rename
export const authedAdminApi = api.extend({
  hooks: { beforeRequest: [bearer] },
});

// The admin tenant (Logto Cloud / console tenant) does not exist in Latch.
export const adminTenantApi = ky.extend({
  prefixUrl: appendPath(new URL(logtoConsoleUrl), 'api'),
});

export const authedAdminTenantApi = adminTenantApi.extend({
  headers: {
    'development-user-id': 'integration-test-admin-user',
  },
});

export const cloudApi = ky.extend({
  prefixUrl: appendPath(new URL(logtoCloudUrl), 'api'),
});

export const oidcApi = ky.extend({
  headers: formUrlEncodedHeaders,
  prefixUrl: appendPath(new URL(logtoUrl), 'oidc'),
});
