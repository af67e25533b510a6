import { ApiError, api, qs } from "../api";
import { lineChart } from "../charts";
import { ago, append, badge, fmtTime, h, notice, toast } from "../dom";
import { type Anomaly, SEVERITIES, TYPES } from "../state";

const POLL_MS = 5000;
let poller: number | undefined;

export function stopPolling(): void {
  if (poller !== undefined) window.clearInterval(poller);
  poller = undefined;
}

interface Filters {
  severity: string;
  anomalyType: string;
  userId: string;
  fromDate: string;
  toDate: string;
  detector: string;
}

function readFilters(params: URLSearchParams): Filters {
  return {
    severity: params.get("severity") ?? "",
    anomalyType: params.get("anomalyType") ?? "",
    userId: params.get("userId") ?? "",
    fromDate: params.get("fromDate") ?? "",
    toDate: params.get("toDate") ?? "",
    detector: params.get("detector") ?? "",
  };
}

function select(name: string, label: string, options: readonly string[], value: string): HTMLElement {
  return h(
    "label",
    {},
    label,
    h("select", { name }, h("option", { value: "" }, "any"), options.map((o) => h("option", { value: o, selected: o === value }, o))),
  );
}

export async function anomaliesList(root: HTMLElement, params: URLSearchParams): Promise<void> {
  const f = readFilters(params);
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter anomalies" },
    select("severity", "Severity", SEVERITIES, f.severity),
    select("anomalyType", "Type", TYPES, f.anomalyType),
    h("label", {}, "User", h("input", { name: "userId", value: f.userId, placeholder: "user id or pseudonym", autocomplete: "off" })),
    h("label", {}, "From", h("input", { name: "fromDate", type: "datetime-local", value: f.fromDate })),
    h("label", {}, "To", h("input", { name: "toDate", type: "datetime-local", value: f.toDate })),
    h("label", {}, "Detector", h("input", { name: "detector", value: f.detector, placeholder: "e.g. value" })),
    h("button", { type: "submit" }, "Apply"),
    h("label", { class: "live" }, h("input", { type: "checkbox", name: "live", checked: params.get("live") !== "0" }), "Live (every 5 s)"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const next = new URLSearchParams();
    for (const [k, v] of data.entries()) if (v && k !== "live") next.set(k, String(v));
    if (!data.get("live")) next.set("live", "0");
    location.hash = `#/anomalies${next.toString() ? "?" + next.toString() : ""}`;
  });
  const status = h("p", { class: "hint", "aria-live": "polite" });
  const body = h("div", { id: "anomaly-table" });
  root.append(h("h1", {}, "Anomalies"), form, status, body);

  let nextToken: string | null = null;
  const rows: Anomaly[] = [];
  const query = () => ({
    severity: f.severity,
    anomalyType: f.anomalyType,
    userId: f.userId,
    fromDate: f.fromDate ? new Date(f.fromDate).toISOString() : "",
    toDate: f.toDate ? new Date(f.toDate).toISOString() : "",
    limit: 50,
  });
  const render = () => {
    body.replaceChildren();
    const shown = f.detector ? rows.filter((a) => (a.detector ?? a.anomalyType) === f.detector) : rows;
    if (!shown.length) {
      body.append(notice("No anomalies match.", f.severity || f.anomalyType || f.userId || f.fromDate || f.detector ? "Widen the filters (set them to any) or the time range." : "Nothing detected yet: send events (POST /events, or make demo locally); this list updates by itself."));
      return;
    }
    append(body, [
      h(
        "table",
        { class: "tbl anomalies" },
        h("thead", {}, h("tr", {}, ["Severity", "Type", "Score", "User / entity", "Description", "Detected", "Verdict"].map((c) => h("th", { scope: "col" }, c)))),
        h(
          "tbody",
          {},
          shown.map((a) =>
            h(
              "tr",
              { "data-anomaly-id": a.anomalyId },
              h("td", {}, badge(a.severity)),
              h("td", {}, a.anomalyType),
              h("td", {}, a.anomalyScore.toFixed(2)),
              h("td", { class: "mono" }, a.userId),
              h("td", {}, h("a", { href: `#/anomalies/${encodeURIComponent(a.anomalyId)}`, class: "open" }, a.description)),
              h("td", { title: fmtTime(a.detectedAt) }, `${ago(a.detectedAt)} ago`),
              h("td", {}, a.feedback?.label ? a.feedback.label.replace("_", " ") : "—"),
            ),
          ),
        ),
      ),
      nextToken ? h("button", { type: "button", onclick: () => void more() }, "Load more") : null,
    ]);
  };
  const load = async (replace: boolean) => {
    const page: any = await api("GET", "/anomalies" + qs({ ...query(), nextToken: replace ? undefined : nextToken }));
    if (replace) {
      const known = new Set(rows.map((r) => r.anomalyId));
      const fresh = (page.anomalies as Anomaly[]).filter((a) => !known.has(a.anomalyId));
      if (rows.length && fresh.length) toast(`${fresh.length} new anomal${fresh.length === 1 ? "y" : "ies"}`);
      rows.splice(0, rows.length, ...page.anomalies);
    } else rows.push(...page.anomalies);
    nextToken = page.pagination?.hasMore ? page.pagination.nextToken : null;
    status.textContent = `${rows.length} shown · updated ${new Date().toISOString().slice(11, 19)}Z`;
    render();
  };
  const more = () => load(false).catch(showError(body));
  await load(true);
  stopPolling();
  if (params.get("live") !== "0") {
    poller = window.setInterval(() => {
      if (document.hidden || !document.body.contains(body)) return;
      load(true).catch(() => (status.textContent = "Live update failed; retrying in 5 s."));
    }, POLL_MS);
  }
}

export function showError(where: HTMLElement) {
  return (e: unknown) => {
    const err = e instanceof ApiError ? e : new ApiError(0, "ERROR", String(e));
    where.replaceChildren(notice(`${err.status || ""} ${err.code}: ${err.message}`, err.advice, "error"));
  };
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

export async function anomalyDetail(root: HTMLElement, id: string): Promise<void> {
  const a: Anomaly = await api("GET", `/anomalies/${encodeURIComponent(id)}`);
  const [history, incidents] = await Promise.all([
    api("GET", "/anomalies" + qs({ userId: a.userId, limit: 100 })).catch(() => ({ anomalies: [] })),
    api("GET", "/incidents?limit=100").catch(() => ({ incidents: [] })),
  ]);
  const related: Anomaly[] = (history.anomalies as Anomaly[]).filter((x) => x.anomalyId !== a.anomalyId);
  const incident = (incidents.incidents ?? []).find((i: any) => i.incidentId === a.incidentId || (i.members ?? []).some((m: any) => m.anomalyId === a.anomalyId));

  // observed vs expected: each numeric explanation feature side by side
  const numeric = a.explanation.filter((e) => num(e.observed) !== null && num(e.expected) !== null);
  const explain = h(
    "div",
    { class: "explain" },
    a.explanation.map((e) => {
      const o = num(e.observed);
      const x = num(e.expected);
      const max = Math.max(Math.abs(o ?? 0), Math.abs(x ?? 0), 1e-9);
      return h(
        "div",
        { class: "feature" },
        h("div", { class: "fname" }, e.feature),
        o !== null && x !== null
          ? h(
              "div",
              { class: "bars", role: "img", "aria-label": `${e.feature}: observed ${o}, expected ${x}` },
              h("div", { class: "bar observed", style: `width:${(100 * Math.abs(o)) / max}%` }, `observed ${o}`),
              h("div", { class: "bar expected", style: `width:${(100 * Math.abs(x)) / max}%` }, `expected ${x}`),
            )
          : h("div", {}, `observed ${e.observed ?? "—"} · expected ${e.expected ?? "—"}`),
        e.detail ? h("div", { class: "hint" }, e.detail) : null,
      );
    }),
  );
  // the user's (or series') recent history: score of each anomaly, and the event's amount/metric when present
  const all = [a, ...related];
  const pts = (f: (x: Anomaly) => number | null) =>
    all.map((x) => [Date.parse(x.originalEvent?.timestamp ?? x.detectedAt), f(x)] as [number, number | null]).filter((p): p is [number, number] => p[1] !== null && !Number.isNaN(p[0]));
  const amount = pts((x) => num(x.originalEvent?.transactionAmount) ?? num(x.originalEvent?.metricValue));
  const expected = numeric[0] ? num(numeric[0].expected) : null;
  const series = amount.length
    ? [{ name: "observed", points: amount, cls: "observed" }, ...(expected !== null ? [{ name: "expected", points: amount.map((p) => [p[0], expected] as [number, number]), cls: "expected" }] : [])]
    : [{ name: "score", points: pts((x) => x.anomalyScore), cls: "observed" }];

  const note = h("textarea", { id: "feedback-note", maxlength: 1000, rows: 2, placeholder: "Why (optional, up to 1,000 characters)" }) as HTMLTextAreaElement;
  const verdict = h("p", { id: "verdict", "aria-live": "polite" }, a.feedback ? `Verdict: ${a.feedback.label.replace("_", " ")} by ${a.feedback.submittedBy ?? "?"} at ${fmtTime(a.feedback.submittedAt)}` : "No verdict yet.");
  const send = (label: string) => async () => {
    try {
      const r: any = await api("POST", `/anomalies/${encodeURIComponent(a.anomalyId)}/feedback`, { label, note: note.value || null });
      verdict.textContent = `Verdict: ${label.replace("_", " ")} saved${r.suppression ? " (similar findings suppressed for a while)" : ""}.`;
      toast(`Marked ${label.replace("_", " ")}`);
    } catch (e) {
      showError(verdict)(e);
    }
  };

  root.append(
    h("p", {}, h("a", { href: "#/anomalies" }, "← Anomalies")),
    h("h1", {}, badge(a.severity), " ", a.description),
    h(
      "dl",
      { class: "facts" },
      fact("Type", `${a.anomalyType}${a.detector && a.detector !== a.anomalyType ? ` (${a.detector})` : ""}`),
      fact("Score", a.anomalyScore.toFixed(3)),
      fact("User / entity", a.userId),
      fact("Event time", fmtTime(a.originalEvent?.timestamp)),
      fact("Detected", fmtTime(a.detectedAt)),
      fact("Anomaly id", a.anomalyId),
    ),
    h("div", { class: "grid" },
      h("section", { class: "card" }, h("h2", {}, "Why: observed vs expected"), explain),
      h("section", { class: "card" }, h("h2", {}, `Recent history of ${a.userId}`), lineChart(`History of ${a.userId}`, series, { marks: [{ x: Date.parse(a.originalEvent?.timestamp ?? a.detectedAt), label: "this" }] }), h("p", { class: "hint" }, `${all.length} anomalies of this user or series.`)),
      h("section", { class: "card" }, h("h2", {}, "Original event"), h("pre", { class: "json" }, JSON.stringify(a.originalEvent, null, 2))),
      h(
        "section",
        { class: "card" },
        h("h2", {}, "Actions performed"),
        a.actionsPerformed.length
          ? h("ul", { class: "actions" }, a.actionsPerformed.map((x) => h("li", {}, h("strong", {}, x.type), ` ${x.status ?? ""}${x.dryRun ? " (dry run)" : ""} · ${fmtTime(x.at)}${x.source ? ` · ${x.source}` : ""}`)))
          : h("p", { class: "hint" }, "None yet (the response workflow records its actions here within seconds)."),
      ),
      h(
        "section",
        { class: "card" },
        h("h2", {}, "Related"),
        incident ? h("p", {}, "Incident: ", h("a", { href: `#/incidents/${encodeURIComponent(incident.incidentId)}` }, `${incident.incidentId} (${incident.status}, ${incident.memberCount} anomalies)`)) : h("p", { class: "hint" }, "Not part of an incident."),
        related.length
          ? h("ul", {}, related.slice(0, 10).map((r) => h("li", {}, badge(r.severity), " ", h("a", { href: `#/anomalies/${encodeURIComponent(r.anomalyId)}` }, r.description))))
          : h("p", { class: "hint" }, "No other anomalies for this user or series."),
      ),
      h(
        "section",
        { class: "card" },
        h("h2", {}, "Verdict"),
        verdict,
        note,
        h(
          "div",
          { class: "buttons" },
          h("button", { type: "button", id: "mark-tp", onclick: send("true_positive") }, "Confirm (true positive)"),
          h("button", { type: "button", id: "mark-fp", class: "secondary", onclick: send("false_positive") }, "False positive"),
        ),
        h("p", { class: "hint" }, "A false positive also suppresses the same pattern for a while and feeds retraining."),
      ),
    ),
  );
}

function fact(k: string, v: string): HTMLElement[] {
  return [h("dt", {}, k), h("dd", { class: "mono" }, v)];
}
