// The API client: bearer token from sessionStorage only (never localStorage), same origin unless
// config.json names another API URL (deployed: the API Gateway stage URL).
export const TOKEN_KEY = "guardian.token";

export interface ConsoleConfig {
  apiUrl: string;
  cognito?: { domain: string; clientId: string; redirectUri?: string; scopes?: string[] };
}

let config: ConsoleConfig = { apiUrl: "" };

export function setConfig(c: ConsoleConfig): void {
  config = { ...c, apiUrl: (c.apiUrl || "").replace(/\/+$/, "") };
}
export function getConfig(): ConsoleConfig {
  return config;
}

export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}
export function setToken(t: string | null): void {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** The token's claims (not verified here: the API's authorizer does that). */
export function claims(t = token()): Record<string, unknown> | null {
  if (!t) return null;
  try {
    const part = t.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(decodeURIComponent(escape(atob(part + "===".slice((part.length + 3) % 4)))));
  } catch {
    return null;
  }
}

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
  ) {
    super(message);
  }
  /** What the analyst can do about it. */
  get advice(): string {
    if (this.status === 0) return "The API did not answer. Is the stack running (make local)? Then reload.";
    if (this.status === 401) return "Your session token is missing, expired or not accepted. Sign in again.";
    if (this.status === 403) return "Your token lacks the scope for this (api:read to view, api:write to change).";
    if (this.status === 404) return "It does not exist for your tenant (or was deleted).";
    if (this.status === 409) return "Someone changed it since you loaded it: reload and try again.";
    if (this.status === 429 || this.status === 503) return "The API is busy; wait a few seconds and retry.";
    return "Check the message above; retry, or report it with the time shown.";
  }
}

export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp: Response;
  try {
    resp = await fetch(config.apiUrl + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "NETWORK", `Could not reach the API at ${config.apiUrl || location.origin}`);
  }
  const text = await resp.text();
  let data: any = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { message: text.slice(0, 200) };
  }
  if (!resp.ok) {
    if (resp.status === 401) window.dispatchEvent(new CustomEvent("guardian:unauthorized"));
    throw new ApiError(resp.status, data?.code ?? "ERROR", data?.message ?? resp.statusText);
  }
  return data as T;
}

export function qs(params: Record<string, string | number | undefined | null>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") u.set(k, String(v));
  const q = u.toString();
  return q ? `?${q}` : "";
}

/** Every page of a paginated list, up to `max` items. */
export async function all<T>(path: string, key: string, params: Record<string, string | number | undefined>, max = 2000): Promise<T[]> {
  const out: T[] = [];
  let next: string | undefined;
  do {
    const page: any = await api("GET", path + qs({ ...params, nextToken: next }));
    out.push(...((page?.[key] as T[]) ?? []));
    next = page?.pagination?.hasMore ? page.pagination.nextToken : undefined;
  } while (next && out.length < max);
  return out;
}
