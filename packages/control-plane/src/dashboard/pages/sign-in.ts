/** The sign-in page: a user token, and the OIDC issuer's button when msp.yaml names one (`oidcLabel`). */
import { html } from 'hono/html';
import type { Html } from '../layout.js';

export function signInPage(error?: string, oidcLabel?: string): Html {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>Sign in · MSP</title>
        <link rel="stylesheet" href="/ui/static/dashboard.css" />
      </head>
      <body>
        <main id="main" class="signin">
          <h1>Sign in to MSP</h1>
          ${error ? html`<p class="error" role="alert">${error}</p>` : ''}
          ${
            oidcLabel
              ? html`<p><a class="button primary" href="/ui/oidc/start">${oidcLabel}</a></p>
                  <p class="muted">or with a token:</p>`
              : ''
          }
          <form method="post" action="/ui/sign-in">
            <label for="token">Token</label>
            <input id="token" name="token" type="password" autocomplete="off" required autofocus />
            <p class="muted">
              Your API token: the same one the CLI uses (the admin token is in <code>.msp/admin-token</code>).
              It is kept in an HttpOnly cookie for this site only, never readable by page scripts.
            </p>
            <button type="submit" class="primary">Sign in</button>
          </form>
        </main>
      </body>
    </html>`;
}
