// Sign-in. Three ways to a session token, all kept in sessionStorage only:
// 1. `#token=...` in the URL fragment (automation, `guardian token`): fragments never reach a server;
//    it is read once and stripped from the address bar and history.
// 2. Cognito hosted UI, authorization code + PKCE (no client secret): config.json names the domain.
// 3. Pasting a token into the sign-in form.
import { getConfig, setToken } from "./api";

const PKCE_KEY = "guardian.pkce";

/** Consume `#token=...` (optionally `&view=anomalies`); returns the route to show next. */
export function takeFragmentToken(): string | null {
  const hash = location.hash.replace(/^#/, "");
  if (!/^token=|&token=/.test(hash) || hash.startsWith("/")) return null;
  const p = new URLSearchParams(hash);
  const t = p.get("token");
  if (t) setToken(t.trim());
  const view = p.get("view") ?? "overview";
  history.replaceState(null, "", `${location.pathname}${location.search}#/${view.replace(/^\/+/, "")}`);
  return view;
}

function b64url(bytes: ArrayBuffer | Uint8Array): string {
  const arr = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let s = "";
  for (const b of arr) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function redirectUri(): string {
  return getConfig().cognito?.redirectUri ?? `${location.origin}${location.pathname}`;
}

export async function startCognitoSignIn(): Promise<void> {
  const c = getConfig().cognito;
  if (!c) return;
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const state = b64url(crypto.getRandomValues(new Uint8Array(16)));
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state }));
  const u = new URL(`https://${c.domain}/oauth2/authorize`);
  u.search = new URLSearchParams({
    response_type: "code",
    client_id: c.clientId,
    redirect_uri: redirectUri(),
    scope: (c.scopes ?? ["openid", "email", "profile"]).join(" "),
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  }).toString();
  location.assign(u.toString());
}

/** Back from the hosted UI with ?code=&state=: exchange the code (PKCE) for tokens. */
export async function finishCognitoSignIn(): Promise<boolean> {
  const c = getConfig().cognito;
  const params = new URLSearchParams(location.search);
  const code = params.get("code");
  if (!c || !code) return false;
  const saved = JSON.parse(sessionStorage.getItem(PKCE_KEY) ?? "{}");
  sessionStorage.removeItem(PKCE_KEY);
  history.replaceState(null, "", `${location.pathname}#/overview`);
  if (!saved.verifier || saved.state !== params.get("state")) throw new Error("The sign-in response does not match this browser's request; sign in again.");
  const resp = await fetch(`https://${c.domain}/oauth2/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", client_id: c.clientId, code, redirect_uri: redirectUri(), code_verifier: saved.verifier }),
  });
  if (!resp.ok) throw new Error(`Cognito refused the sign-in (${resp.status}); sign in again.`);
  const tokens = await resp.json();
  // The ID token carries custom:tenantId and cognito:groups; the authorizer accepts it (aud = client id).
  setToken(tokens.id_token ?? tokens.access_token);
  return true;
}

export function signOutUrl(): string | null {
  const c = getConfig().cognito;
  if (!c) return null;
  return `https://${c.domain}/logout?${new URLSearchParams({ client_id: c.clientId, logout_uri: redirectUri() })}`;
}
