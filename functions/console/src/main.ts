import "./style.css";
import { ApiError, claims, getConfig, setConfig, setToken, token } from "./api";
import { finishCognitoSignIn, signOutUrl, startCognitoSignIn, takeFragmentToken } from "./auth";
import { clear, h, notice } from "./dom";
import { anomaliesList, anomalyDetail, showError, stopPolling } from "./views/anomalies";
import { incidentDetail, incidentsList } from "./views/incidents";
import { overview } from "./views/overview";
import { reviews } from "./views/reviews";
import { rulesView } from "./views/rules";

const VIEWS: { id: string; label: string }[] = [
  { id: "overview", label: "Overview" },
  { id: "anomalies", label: "Anomalies" },
  { id: "reviews", label: "Reviews" },
  { id: "incidents", label: "Incidents" },
  { id: "rules", label: "Rules & settings" },
];

const main = document.getElementById("main") as HTMLElement;

function route(): { view: string; id?: string; params: URLSearchParams } {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query] = raw.split("?", 2);
  const [view, id] = path.split("/", 2);
  return { view: view || "overview", id: id ? decodeURIComponent(id) : undefined, params: new URLSearchParams(query ?? "") };
}

function renderNav(active: string): void {
  const nav = document.getElementById("nav") as HTMLElement;
  clear(nav);
  for (const v of VIEWS) nav.append(h("a", { href: `#/${v.id}`, "aria-current": v.id === active ? "page" : null }, v.label));
  const who = document.getElementById("who") as HTMLElement;
  const c = claims();
  clear(who);
  if (c) {
    const tenant = String(c.tenantId ?? c["custom:tenantId"] ?? "?");
    const exp = typeof c.exp === "number" ? new Date(c.exp * 1000).toISOString().slice(11, 16) + "Z" : "?";
    who.append(h("span", { id: "tenant" }, `tenant ${tenant}`), ` · until ${exp} `, h("button", { type: "button", class: "link", onclick: signOut }, "Sign out"));
  }
}

function signOut(): void {
  setToken(null);
  const url = signOutUrl();
  if (url) location.assign(url);
  else void render();
}

function signInView(reason?: string): void {
  renderNav("");
  const input = h("textarea", { id: "token-input", rows: 3, placeholder: "eyJ…", "aria-label": "Bearer token", autocomplete: "off", spellcheck: "false" }) as HTMLTextAreaElement;
  const form = h(
    "form",
    { class: "card signin" },
    h("h1", {}, "Sign in"),
    reason ? notice(reason, "Sign in again below.", "error") : null,
    getConfig().cognito ? h("p", {}, h("button", { type: "button", id: "cognito-signin", onclick: () => void startCognitoSignIn() }, "Sign in with your organisation account")) : null,
    h("p", {}, "Or paste a bearer token: locally ", h("code", {}, ".venv/bin/guardian token --tenant acme"), ", or open ", h("code", {}, "/console/#token=<token>"), "."),
    input,
    h("div", { class: "buttons" }, h("button", { type: "submit" }, "Use this token")),
    h("p", { class: "hint" }, "The token is kept in this tab's session storage only and sent only to the API."),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (input.value.trim()) {
      setToken(input.value.trim());
      location.hash = "#/overview";
      void render();
    }
  });
  main.replaceChildren(form);
  input.focus();
}

async function render(): Promise<void> {
  stopPolling();
  if (!token()) return signInView();
  const exp = claims()?.exp;
  if (typeof exp === "number" && exp * 1000 < Date.now()) {
    setToken(null);
    return signInView("Your session has expired.");
  }
  const r = route();
  renderNav(r.view);
  const view = h("div", { class: "view", "data-view": r.view, "aria-busy": "true" });
  main.replaceChildren(view);
  try {
    if (r.view === "overview") await overview(view);
    else if (r.view === "anomalies") await (r.id ? anomalyDetail(view, r.id) : anomaliesList(view, r.params));
    else if (r.view === "reviews") await reviews(view, r.params);
    else if (r.view === "incidents") await (r.id ? incidentDetail(view, r.id) : incidentsList(view, r.params));
    else if (r.view === "rules") await rulesView(view);
    else view.append(notice("No such page.", "Pick a view from the menu above."));
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      setToken(null);
      return signInView("The API did not accept your token (expired, or for another deployment).");
    }
    showError(view)(e);
  } finally {
    view.setAttribute("aria-busy", "false");
    view.setAttribute("data-loaded", "true");
  }
}

async function boot(): Promise<void> {
  try {
    const resp = await fetch("config.json", { cache: "no-store" });
    if (resp.ok) setConfig(await resp.json());
  } catch {
    /* no config.json: the API is on this origin (the local stack) */
  }
  takeFragmentToken();
  try {
    await finishCognitoSignIn();
  } catch (e) {
    return signInView(String((e as Error).message));
  }
  window.addEventListener("hashchange", () => {
    if (takeFragmentToken() !== null) renderNav(route().view);
    void render();
  });
  window.addEventListener("guardian:unauthorized", () => undefined);
  await render();
}

void boot();
