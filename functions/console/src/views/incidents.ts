import { api, qs } from "../api";
import { ago, badge, fmtTime, h, notice, toast } from "../dom";
import { showError } from "./anomalies";

export async function incidentsList(root: HTMLElement, params: URLSearchParams): Promise<void> {
  const status = params.get("status") ?? "";
  const data: any = await api("GET", "/incidents" + qs({ status, limit: 100, sort: "rank" }));
  const list: any[] = data.incidents ?? [];
  root.append(
    h("h1", {}, "Incidents"),
    h("nav", { class: "tabs", "aria-label": "Incident status" }, ["", "OPEN", "MITIGATED", "RESOLVED"].map((s) => h("a", { href: `#/incidents${s ? `?status=${s}` : ""}`, "aria-current": s === status ? "page" : null }, s ? s.toLowerCase() : "all"))),
  );
  if (!list.length) {
    root.append(notice("No incidents.", "Related anomalies (same user, IP, device or service within minutes) are grouped into incidents by the correlator."));
    return;
  }
  root.append(
    h(
      "table",
      { class: "tbl" },
      h("thead", {}, h("tr", {}, ["Severity", "Summary", "Status", "Anomalies", "Est. cost", "Opened"].map((c) => h("th", { scope: "col" }, c)))),
      h(
        "tbody",
        {},
        list.map((i) =>
          h(
            "tr",
            {},
            h("td", {}, badge(i.severity)),
            h("td", {}, h("a", { href: `#/incidents/${encodeURIComponent(i.incidentId)}` }, i.summary || i.incidentId)),
            h("td", {}, i.status),
            h("td", { class: "num" }, i.memberCount),
            h("td", { class: "num" }, i.estimatedCostUsd ? `$${Number(i.estimatedCostUsd).toFixed(0)}` : "—"),
            h("td", { title: fmtTime(i.openedAt) }, `${ago(i.openedAt)} ago`),
          ),
        ),
      ),
    ),
  );
}

export async function incidentDetail(root: HTMLElement, id: string): Promise<void> {
  const inc: any = await api("GET", `/incidents/${encodeURIComponent(id)}`);
  const members: any[] = inc.members ?? [];
  const full = await Promise.all(members.slice(0, 25).map((m) => api("GET", `/anomalies/${encodeURIComponent(m.anomalyId)}`).catch(() => m)));
  const events: { at: string; node: HTMLElement }[] = [];
  events.push({ at: inc.openedAt, node: h("span", {}, "Incident opened") });
  for (const a of full) {
    events.push({ at: a.detectedAt, node: h("span", {}, badge(a.severity), " ", h("a", { href: `#/anomalies/${encodeURIComponent(a.anomalyId)}` }, a.description ?? `${a.anomalyType} anomaly`)) });
    for (const act of a.actionsPerformed ?? []) events.push({ at: act.at, node: h("span", { class: "act" }, `${act.type} ${act.status ?? ""}${act.dryRun ? " (dry run)" : ""}`) });
  }
  if (inc.resolvedAt) events.push({ at: inc.resolvedAt, node: h("span", {}, `Resolved${inc.resolvedBy ? ` by ${inc.resolvedBy}` : ""}${inc.resolutionNote ? `: ${inc.resolutionNote}` : ""}`) });
  events.sort((x, y) => Date.parse(x.at) - Date.parse(y.at));
  const entity = inc.primaryEntity ? `${inc.primaryEntity.kind} ${inc.primaryEntity.value}` : "—";
  const note = h("textarea", { rows: 2, maxlength: 1000, placeholder: "Resolution note (optional)" }) as HTMLTextAreaElement;
  const out = h("div", { "aria-live": "polite" });
  const resolve = async () => {
    try {
      const r: any = await api("POST", `/incidents/${encodeURIComponent(id)}/resolve`, { note: note.value || null });
      out.replaceChildren(h("p", { class: "done" }, `Status: ${r.status ?? "RESOLVED"}.`));
      toast("Incident resolved");
    } catch (e) {
      showError(out)(e);
    }
  };
  root.append(
    h("p", {}, h("a", { href: "#/incidents" }, "← Incidents")),
    h("h1", {}, badge(inc.severity), " ", inc.summary ?? id),
    h(
      "dl",
      { class: "facts" },
      [h("dt", {}, "Status"), h("dd", {}, `${inc.status}${inc.statusReason ? ` — ${inc.statusReason}` : ""}`)],
      [h("dt", {}, "Common cause"), h("dd", { class: "mono" }, `${entity}; types ${Object.entries(inc.types ?? {}).map(([k, v]) => `${k}×${v}`).join(", ")}`)],
      [h("dt", {}, "Entities"), h("dd", { class: "mono" }, Object.entries(inc.entities ?? {}).map(([k, v]) => `${k}: ${(v as string[]).join(", ")}`).join(" · "))],
      [h("dt", {}, "Seen"), h("dd", {}, `${fmtTime(inc.firstSeenAt)} → ${fmtTime(inc.lastSeenAt)}`)],
    ),
    h("section", { class: "card" }, h("h2", {}, "Timeline"), h("ol", { class: "timeline" }, events.map((e) => h("li", {}, h("time", { datetime: e.at }, fmtTime(e.at)), " ", e.node)))),
    inc.status === "RESOLVED"
      ? h("p", { class: "hint" }, "Resolved.")
      : h("section", { class: "card" }, h("h2", {}, "Resolve"), h("p", { class: "hint" }, "Resolving closes the incident; new related anomalies open a new one. Webhooks get incident.resolved."), note, h("div", { class: "buttons" }, h("button", { type: "button", onclick: () => void resolve() }, "Resolve incident")), out),
  );
}
