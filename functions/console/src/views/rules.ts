import { api } from "../api";
import { fmtTime, h, notice, toast } from "../dom";
import { showError } from "./anomalies";

const ACTIONS = ["rate_limit", "hold_transaction", "step_up_auth", "enhanced_monitoring", "scale", "notify"];

export async function rulesView(root: HTMLElement): Promise<void> {
  const [rules, settings, hooks, detectors] = await Promise.all([
    api("GET", "/rules"),
    api("GET", "/settings/response"),
    api("GET", "/webhooks").catch(() => ({ webhooks: [] })),
    api("GET", "/detectors?hours=24").catch(() => ({ detectors: [] })),
  ]);
  root.append(h("h1", {}, "Rules & settings"));
  root.append(rulesSection(rules.rules ?? [], detectors.detectors ?? []));
  root.append(responseSection(settings));
  root.append(webhooksSection(hooks.webhooks ?? []));
}

function rulesSection(rules: any[], detectors: any[]): HTMLElement {
  const byDetector = new Map(detectors.map((d: any) => [d.detector, d]));
  const rows = rules.map((r) => {
    const input = h("input", { type: "number", step: "any", value: r.conditions?.threshold, "aria-label": `Threshold of ${r.ruleId}`, class: "threshold", name: `threshold-${r.ruleId}` }) as HTMLInputElement;
    const out = h("div", { class: "rule-out", "aria-live": "polite" });
    const save = async () => {
      const value = Number(input.value);
      if (!Number.isFinite(value)) {
        out.replaceChildren(notice("Not a number.", "Enter the new threshold as a number.", "error"));
        return;
      }
      const body = { ...r, conditions: { ...r.conditions, threshold: value } };
      try {
        const saved: any = await api("PUT", `/rules/${encodeURIComponent(r.ruleId)}`, body);
        Object.assign(r, saved);
        out.replaceChildren(h("p", { class: "done" }, `Saved: threshold ${r.conditions.threshold}, version ${saved.version}. Applies within 60 s.`));
        toast(`${r.ruleId}: threshold ${value}`);
      } catch (e) {
        showError(out)(e);
      }
    };
    const toggle = async () => {
      try {
        const saved: any = await api("PUT", `/rules/${encodeURIComponent(r.ruleId)}`, { ...r, enabled: !r.enabled });
        Object.assign(r, saved);
        out.replaceChildren(h("p", { class: "done" }, `${r.ruleId} is now ${r.enabled ? "enabled" : "disabled"}.`));
      } catch (e) {
        showError(out)(e);
      }
    };
    const detector = r.builtIn ? byDetector.get(String(r.ruleId).replace(/-check$/, "")) : undefined;
    return h(
      "tr",
      { "data-rule-id": r.ruleId },
      h("td", {}, h("strong", {}, r.ruleName), h("div", { class: "hint mono" }, `${r.ruleId}${r.builtIn ? " · built-in" : ""} · v${r.version}${r.updatedAt ? ` · ${fmtTime(r.updatedAt)} by ${r.updatedBy ?? "?"}` : ""}`)),
      h("td", { class: "mono" }, `${r.conditions?.metric} ${r.conditions?.operator}`),
      h("td", {}, input, r.defaultThreshold !== undefined ? h("div", { class: "hint" }, `default ${r.defaultThreshold}`) : null),
      h("td", {}, r.enabled ? "on" : "off"),
      h(
        "td",
        {},
        h("button", { type: "button", class: "save-threshold", onclick: () => void save() }, "Save threshold"),
        " ",
        h("button", { type: "button", class: "secondary", onclick: () => void toggle() }, r.enabled ? "Disable" : "Enable"),
        detector ? budget(detector) : null,
        out,
      ),
    );
  });
  return h(
    "section",
    { class: "card wide" },
    h("h2", {}, "Detection rules"),
    h("p", { class: "hint" }, "Thresholds are per tenant and apply within 60 s. The API has no replay of a rule threshold; an alert budget can be simulated on the last day's stored alerts before saving it."),
    rules.length
      ? h("table", { class: "tbl rules" }, h("thead", {}, h("tr", {}, ["Rule", "Condition", "Threshold", "State", ""].map((c) => h("th", { scope: "col" }, c)))), h("tbody", {}, rows))
      : notice("No rules.", "The built-in detectors always show here; if they do not, the API could not read the config table."),
  );
}

function budget(d: any): HTMLElement {
  const box = h("details", { class: "budget" });
  const input = h("input", { type: "number", min: 0, max: 10000, step: "any", value: d.budget?.alertsPer10k ?? "", "aria-label": `Alert budget of ${d.detector} per 10k events` }) as HTMLInputElement;
  const out = h("div", { "aria-live": "polite" });
  const simulate = async () => {
    try {
      const r: any = await api("POST", `/detectors/${encodeURIComponent(d.detector)}/simulate`, { alertsPer10k: Number(input.value), hours: 24 });
      out.replaceChildren(
        h(
          "p",
          { class: "sim" },
          `Last 24 h: ${r.current?.alerts ?? "?"} alerts now → ${r.simulated?.alerts ?? "?"} with this budget (${r.removed ?? 0} removed; score floor ${r.threshold ?? "—"}); precision ${fmtP(r.current?.precision)} → ${fmtP(r.simulated?.precision)}.`,
          r.lowerBound ? " Looser than the floor in force: findings below it were never stored." : "",
        ),
        h("button", { type: "button", onclick: () => void save() }, "Save this budget"),
      );
    } catch (e) {
      showError(out)(e);
    }
  };
  const save = async () => {
    try {
      await api("PUT", `/detectors/${encodeURIComponent(d.detector)}/budget`, { alertsPer10k: input.value === "" ? null : Number(input.value), hours: 24 });
      out.replaceChildren(h("p", { class: "done" }, "Budget saved; the detector applies the floor within 30 s."));
    } catch (e) {
      showError(out)(e);
    }
  };
  box.append(h("summary", {}, `Alert budget (${d.alertsPer10k ?? 0} per 10k now)`), input, h("button", { type: "button", class: "secondary", onclick: () => void simulate() }, "Simulate"), out);
  return box;
}

const fmtP = (p: unknown) => (typeof p === "number" ? `${Math.round(p * 100)} %` : "n/a");

function responseSection(s: any): HTMLElement {
  const out = h("div", { "aria-live": "polite" });
  const patch = async (body: Record<string, unknown>, what: string) => {
    try {
      const r: any = await api("PATCH", "/settings/response", body);
      Object.assign(s, r);
      out.replaceChildren(h("p", { class: "done" }, `${what}. Kill switch ${s.killSwitch ? "ON" : "off"}, dry-run ${s.dryRun ? "on" : "off"}.`));
    } catch (e) {
      showError(out)(e);
    }
  };
  const confirmKill = () => {
    const turnOn = !s.killSwitch;
    out.replaceChildren(
      h("p", { class: "next" }, h("strong", {}, "What happens next: "), turnOn ? "every response action for your tenant stops at once (blocks, holds, step-up, scaling); detection and alerts go on; existing blocks still expire." : "response actions resume for new anomalies (dry-run and caps still apply)."),
      h("button", { type: "button", class: turnOn ? "danger" : "", onclick: () => void patch({ killSwitch: turnOn }, turnOn ? "Kill switch on" : "Kill switch off") }, turnOn ? "Confirm: stop all actions" : "Confirm: resume actions"),
    );
  };
  const caps = h(
    "div",
    { class: "caps" },
    ACTIONS.map((a) => h("label", {}, a, h("input", { type: "number", min: 0, max: 100000, name: `cap-${a}`, value: s.actionCaps?.[a] ?? "" }))),
  );
  const saveCaps = () => {
    const actionCaps: Record<string, number> = {};
    caps.querySelectorAll("input").forEach((i) => {
      if (i.value !== "") actionCaps[i.name.slice(4)] = Number(i.value);
    });
    void patch({ actionCaps }, "Caps saved");
  };
  return h(
    "section",
    { class: "card wide" },
    h("h2", {}, "Response safety"),
    h(
      "p",
      {},
      `Kill switch: ${s.killSwitch ? "ON (no actions run)" : "off"} · Dry run: ${s.dryRun ? "on (actions only logged)" : "off"}${s.globalDryRun ? " · the deployment is in dry-run (ResponseDryRun)" : ""}${s.dryRunActions?.length ? ` · dry-run actions: ${s.dryRunActions.join(", ")}` : ""}`,
    ),
    h(
      "div",
      { class: "buttons" },
      h("button", { type: "button", id: "kill-switch", class: s.killSwitch ? "" : "danger", onclick: confirmKill }, s.killSwitch ? "Turn kill switch off…" : "Kill switch…"),
      h("button", { type: "button", class: "secondary", onclick: () => void patch({ dryRun: !s.dryRun }, s.dryRun ? "Dry-run off" : "Dry-run on") }, s.dryRun ? "Leave dry-run" : "Dry-run"),
    ),
    h("h3", {}, "Hourly caps per action"),
    caps,
    h("button", { type: "button", onclick: saveCaps }, "Save caps"),
    out,
  );
}

function webhooksSection(hooks: any[]): HTMLElement {
  const list = h("ul", { class: "hooks" });
  const out = h("div", { "aria-live": "polite" });
  const render = () => {
    list.replaceChildren(
      ...(hooks.length
        ? hooks.map((w) =>
            h(
              "li",
              {},
              h("span", { class: "mono" }, w.url),
              ` · ${(w.events ?? []).join(", ")} · secret …${w.secretHint ?? ""} `,
              h("button", { type: "button", class: "secondary", onclick: () => void remove(w) }, "Delete"),
            ),
          )
        : [h("li", { class: "hint" }, "No webhooks. Register one below (https, public address) to get anomaly and incident events signed with HMAC-SHA256.")]),
    );
  };
  const remove = async (w: any) => {
    try {
      await api("DELETE", `/webhooks/${encodeURIComponent(w.webhookId)}`);
      hooks.splice(hooks.indexOf(w), 1);
      render();
    } catch (e) {
      showError(out)(e);
    }
  };
  const form = h(
    "form",
    { class: "filters" },
    h("label", {}, "URL", h("input", { name: "url", type: "url", required: true, placeholder: "https://hooks.example.com/guardian" })),
    h("label", {}, "Secret", h("input", { name: "secret", type: "password", required: true, minlength: 16, autocomplete: "new-password" })),
    h("button", { type: "submit" }, "Register"),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const d = new FormData(form);
    try {
      const w = await api("POST", "/webhooks", { url: d.get("url"), secret: d.get("secret"), events: ["anomaly.detected", "incident.opened"] });
      hooks.push(w);
      form.reset();
      render();
    } catch (err) {
      showError(out)(err);
    }
  });
  render();
  return h("section", { class: "card wide" }, h("h2", {}, "Webhooks"), list, form, out);
}
