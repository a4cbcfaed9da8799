// Latch sign-in pages: drive the Experience API with fetch (same origin, the
// _interaction cookie), then go where submit says. Without JavaScript the form posts
// to the same path and the server runs the same steps.
'use strict';

(function () {
  const form = document.getElementById('experience-form');
  if (!form) {
    return;
  }
  const mode = form.dataset.mode;
  const errorBox = document.getElementById('form-error');
  const button = document.getElementById('submit');

  class ApiError extends Error {
    constructor(message, code, status) {
      super(message);
      this.code = code;
      this.status = status;
    }
  }

  // call sends one Experience API request and returns its JSON body (null when none).
  async function call(method, path, body) {
    const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new ApiError('Could not reach the server. Check your connection and try again.', 'network', 0);
    }
    const isJSON = (res.headers.get('Content-Type') || '').includes('application/json');
    const data = isJSON ? await res.json().catch(() => null) : null;
    if (!res.ok) {
      const message = data && data.message ? data.message : 'Something went wrong (' + res.status + '). Please try again.';
      throw new ApiError(message, data && data.code, res.status);
    }
    return data;
  }

  // identifierType follows Logto's identifiers: an email has an @, a phone number is
  // digits, anything else is a username.
  function identifierType(value) {
    if (value.includes('@')) {
      return 'email';
    }
    if (/^\+?[0-9]+$/.test(value)) {
      return 'phone';
    }
    return 'username';
  }

  async function signIn(fields) {
    const value = fields.get('identifier').trim();
    const password = fields.get('password');
    if (!value || !password) {
      throw new ApiError('Enter your username or email and your password.');
    }
    await call('PUT', '/api/experience', { interactionEvent: 'SignIn' });
    const { verificationId } = await call('POST', '/api/experience/verification/password', {
      identifier: { type: identifierType(value), value },
      password,
    });
    await call('POST', '/api/experience/identification', { verificationId });
    return call('POST', '/api/experience/submit');
  }

  async function register(fields) {
    const username = fields.get('username').trim();
    const password = fields.get('password');
    if (!username || !password) {
      throw new ApiError('Choose a username and a password.');
    }
    if (password !== fields.get('confirm-password')) {
      throw new ApiError('The passwords do not match.');
    }
    await call('PUT', '/api/experience', { interactionEvent: 'Register' });
    await call('POST', '/api/experience/profile', { type: 'username', value: username });
    await call('POST', '/api/experience/profile', { type: 'password', value: password });
    await call('POST', '/api/experience/identification', {});
    return call('POST', '/api/experience/submit');
  }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    errorBox.hidden = true;
    button.disabled = true;
    try {
      const fields = new FormData(form);
      const { redirectTo } = await (mode === 'register' ? register(fields) : signIn(fields));
      window.location.assign(redirectTo);
    } catch (e) {
      // A second factor is due: its server-rendered page (ui_mfa.go) takes over.
      if (e.code === 'session.mfa.require_mfa_verification' || e.code === 'user.missing_mfa') {
        window.location.assign(e.code === 'user.missing_mfa' ? '/mfa-binding' : '/mfa-verification');
        return;
      }
      showError(e instanceof Error ? e.message : String(e));
      button.disabled = false;
      const password = form.querySelector('input[type=password]');
      if (password && e.code === 'session.invalid_credentials') {
        password.value = '';
        password.focus();
      }
    }
  });
})();
