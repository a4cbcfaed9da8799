// Latch MFA: a security key or passkey as the second factor. WebAuthn lives in the
// browser (navigator.credentials), so this page needs JavaScript; the server checks
// everything (experience_mfa_webauthn.go).
'use strict';

(function () {
  const form = document.getElementById('webauthn-form');
  if (!form) {
    return;
  }
  const mode = form.dataset.mode; // "verify" or "bind"
  const errorBox = document.getElementById('form-error');
  const button = document.getElementById('submit');
  button.disabled = false;

  async function call(method, path, body) {
    const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    const data = (res.headers.get('Content-Type') || '').includes('application/json') ? await res.json().catch(() => null) : null;
    if (!res.ok) {
      const e = new Error(data && data.message ? data.message : 'Something went wrong (' + res.status + '). Please try again.');
      e.code = data && data.code;
      throw e;
    }
    return data;
  }

  function fromB64(s) {
    const b = atob(s.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(s.length / 4) * 4, '='));
    return Uint8Array.from(b, (c) => c.charCodeAt(0)).buffer;
  }

  function toB64(buf) {
    let s = '';
    for (const c of new Uint8Array(buf)) {
      s += String.fromCharCode(c);
    }
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function descriptors(list) {
    return (list || []).map((c) => Object.assign({}, c, { id: fromB64(c.id) }));
  }

  async function bind() {
    const { verificationId, registrationOptions: o } = await call('POST', '/api/experience/verification/web-authn/registration');
    const publicKey = Object.assign({}, o, {
      challenge: fromB64(o.challenge),
      user: Object.assign({}, o.user, { id: fromB64(o.user.id) }),
      excludeCredentials: descriptors(o.excludeCredentials),
    });
    const cred = await navigator.credentials.create({ publicKey });
    const payload = {
      id: cred.id, rawId: toB64(cred.rawId), type: 'WebAuthn',
      response: {
        clientDataJSON: toB64(cred.response.clientDataJSON),
        attestationObject: toB64(cred.response.attestationObject),
        transports: cred.response.getTransports ? cred.response.getTransports() : [],
      },
      clientExtensionResults: cred.getClientExtensionResults(),
    };
    await call('POST', '/api/experience/verification/web-authn/registration/verify', { verificationId, payload });
    await call('POST', '/api/experience/profile/mfa', { type: 'WebAuthn', verificationId });
  }

  async function verify() {
    const { verificationId, authenticationOptions: o } = await call('POST', '/api/experience/verification/web-authn/authentication');
    const publicKey = Object.assign({}, o, { challenge: fromB64(o.challenge), allowCredentials: descriptors(o.allowCredentials) });
    const cred = await navigator.credentials.get({ publicKey });
    const payload = {
      id: cred.id, rawId: toB64(cred.rawId), type: 'WebAuthn',
      response: {
        clientDataJSON: toB64(cred.response.clientDataJSON),
        authenticatorData: toB64(cred.response.authenticatorData),
        signature: toB64(cred.response.signature),
        userHandle: cred.response.userHandle ? toB64(cred.response.userHandle) : undefined,
      },
      clientExtensionResults: cred.getClientExtensionResults(),
    };
    await call('POST', '/api/experience/verification/web-authn/authentication/verify', { verificationId, payload });
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    errorBox.hidden = true;
    button.disabled = true;
    try {
      await (mode === 'bind' ? bind() : verify());
      const { redirectTo } = await call('POST', '/api/experience/submit');
      window.location.assign(redirectTo);
    } catch (e) {
      errorBox.textContent = e instanceof Error ? e.message : String(e);
      errorBox.hidden = false;
      button.disabled = false;
    }
  });
})();
