// Latch shim for jest.setup.api.js: the upstream file resets the sign-in experience through
// the admin tenant's API (absent in Latch); this one does it through the Management API.
import { createRequire } from 'node:module';

import { authedAdminApi } from './lib/api/api.js';

globalThis.require = createRequire(import.meta.url);

try {
  await authedAdminApi.patch('sign-in-exp', {
    json: { signInMode: 'SignInAndRegister', sentinelPolicy: {} },
  });
} catch (error) {
  console.warn('latch shim: sign-in-exp reset failed:', String(error));
}
