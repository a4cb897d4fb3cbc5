// Sign in: paste an API token (`ota operator token create`) or an OIDC JWT.
import { html } from '../html.js';
import { errorBox, page } from './layout.js';

export function signInPage(error?: { code: string; message: string }) {
  return page(
    'Sign in',
    html`${error && errorBox(error.code, error.message)}
<form method="post" action="/console/sign-in" class="sign-in">
  <label for="token">API token or OIDC JWT</label>
  <textarea id="token" name="token" rows="4" required autocomplete="off" spellcheck="false" placeholder="ota_... or eyJ..."></textarea>
  <button type="submit">Sign in</button>
</form>
<p class="hint">The token is kept in an HttpOnly, SameSite=Strict cookie of this console and checked on every request as a bearer token is; its role decides what you see and may do.</p>`,
  );
}
