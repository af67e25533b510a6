import { all, api } from "../api";
import { dotMap, gauge, heatMap, stackedBars } from "../charts";
import { h } from "../dom";
import { locate } from "../geo";
import { type Anomaly, latencySeconds, postureScore, quantile, SEVERITIES, TYPES } from "../state";

function card(title: string, body: Node | string, note?: string): HTMLElement {
  return h("section", { class: "card" }, h("h2", {}, title), body, note ? h("p", { class: "hint" }, note) : null);
}

export async function overview(root: HTMLElement): Promise<void> {
  const [anomalies, detectors, reports, reviews] = await Promise.all([
    all<Anomaly>("/anomalies", "anomalies", { limit: 100 }, 2000),
    api("GET", "/detectors?hours=24").catch(() => null),
    api("GET", "/reports?period=daily").catch(() => ({ reports: [] })),
    api("GET", "/reviews?status=PENDING&limit=100").catch(() => ({ reviews: [] })),
  ]);
  const report = (reports?.reports ?? [])[0];
  const reportScore = report?.kpis?.security_posture_score ?? report?.kpis?.securityPostureScore;
  const score = typeof reportScore === "number" ? reportScore : anomalies.length ? postureScore(anomalies) : null;
  const scoreNote =
    typeof reportScore === "number"
      ? `From the ${report.reportId ?? "latest daily"} report.`
      : `Computed here from the last ${anomalies.length} anomalies with the report's formula (docs/reports.md).`;

  // anomalies over time: hourly buckets over the span of the loaded anomalies (at most 48)
  const times = anomalies.map((a) => Date.parse(a.detectedAt)).filter((t) => !Number.isNaN(t));
  const end = times.length ? Math.max(...times) : Date.now();
  const hours = Math.min(48, Math.max(6, Math.ceil((end - Math.min(end, ...times)) / 3.6e6) + 1));
  const start = Math.floor(end / 3.6e6) * 3.6e6 - (hours - 1) * 3.6e6;
  const buckets = Array.from({ length: hours }, (_, i) => ({ label: new Date(start + i * 3.6e6).toISOString().slice(11, 13) + "h", values: {} as Record<string, number> }));
  const byHour: Record<string, number[]> = {};
  const places = new Map<string, { name: string; lat: number; lon: number; count: number }>();
  for (const a of anomalies) {
    const t = Date.parse(a.detectedAt);
    const i = Math.floor((t - start) / 3.6e6);
    if (i >= 0 && i < hours) buckets[i].values[a.severity] = (buckets[i].values[a.severity] ?? 0) + 1;
    const evHour = new Date(Number.isNaN(Date.parse(a.originalEvent?.timestamp)) ? t : Date.parse(a.originalEvent.timestamp)).getUTCHours();
    (byHour[a.anomalyType] ??= Array(24).fill(0))[evHour] += 1;
    const loc = locate(a);
    if (loc) {
      const p = places.get(loc.key) ?? { name: loc.name, lat: loc.lat, lon: loc.lon, count: 0 };
      p.count += 1;
      places.set(loc.key, p);
    }
  }
  const types = TYPES.filter((t) => byHour[t]);
  const lat = anomalies.map(latencySeconds).filter((v): v is number => v !== null);
  const live = lat.filter((v) => v < 3600);
  const events = detectors?.events ?? 0;
  const period = detectors?.periodHours ?? 24;

  const kpis = h(
    "div",
    { class: "kpis" },
    kpi("Anomalies loaded", anomalies.length),
    kpi("Critical", anomalies.filter((a) => a.severity === "CRITICAL").length),
    kpi("Pending reviews", (reviews?.reviews ?? []).length, "#/reviews"),
    kpi("Events/s (24 h avg)", events ? (events / (period * 3600)).toFixed(3) : "—"),
    kpi("Detection p50 (live)", live.length ? `${quantile(live, 0.5)!.toFixed(1)} s` : "—"),
    kpi("Detection p95 (live)", live.length ? `${quantile(live, 0.95)!.toFixed(1)} s` : "—"),
  );
  root.append(
    h("h1", {}, "Overview"),
    kpis,
    h(
      "div",
      { class: "grid" },
      card("Security score", gauge("Security posture score", score), scoreNote),
      card("Anomalies over time (by severity, hourly, UTC)", anomalies.length ? stackedBars("Anomalies per hour by severity", buckets, [...SEVERITIES]) : emptyChart()),
      card("Types by hour of day (event time, UTC)", types.length ? heatMap("Anomaly types by hour", types, byHour) : emptyChart()),
      card(
        "Geographic distribution",
        places.size ? dotMap("Anomalies by location", [...places.values()]) : emptyChart("No located anomalies: events carry geoLocation (coordinates, a country code or an AWS region)."),
        places.size ? [...places.values()].sort((a, b) => b.count - a.count).slice(0, 6).map((p) => `${p.name} ${p.count}`).join(" · ") : undefined,
      ),
      card(
        "Detection latency",
        h("p", {}, lat.length ? `event time → detection: p50 ${dur(quantile(lat, 0.5)!)}, p95 ${dur(quantile(lat, 0.95)!)} over ${lat.length} anomalies` : "No samples yet."),
        "Replayed or back-dated events count their event time: the 'live' figures above use events detected within an hour.",
      ),
      card(
        "Detectors (24 h)",
        h(
          "table",
          { class: "tbl" },
          h("thead", {}, h("tr", {}, h("th", {}, "detector"), h("th", {}, "anomalies"), h("th", {}, "per 10k events"), h("th", {}, "precision"))),
          h(
            "tbody",
            {},
            (detectors?.detectors ?? []).map((d: any) =>
              h("tr", {}, h("td", {}, d.detector), h("td", {}, d.anomalies), h("td", {}, d.alertsPer10k ?? "—"), h("td", {}, d.precision === null || d.precision === undefined ? "no verdicts" : `${Math.round(d.precision * 100)} %`)),
            ),
          ),
        ),
        `${events} events processed in ${period} h.`,
      ),
    ),
  );
  if (!anomalies.length) {
    root.insertBefore(
      h("div", { class: "notice empty", role: "note" }, h("strong", {}, "No anomalies yet."), h("p", {}, "Send events (POST /events, or `make demo` locally) and they show here within seconds.")),
      kpis,
    );
  }
}

function kpi(label: string, value: string | number, href?: string): HTMLElement {
  const v = h("span", { class: "v" }, String(value));
  return h("div", { class: "kpi" }, href ? h("a", { href }, v) : v, h("span", { class: "l" }, label));
}

function emptyChart(text = "Nothing to draw yet."): HTMLElement {
  return h("p", { class: "hint" }, text);
}

function dur(secs: number): string {
  if (secs < 120) return `${secs.toFixed(1)} s`;
  if (secs < 7200) return `${(secs / 60).toFixed(1)} min`;
  if (secs < 172800) return `${(secs / 3600).toFixed(1)} h`;
  return `${Math.round(secs / 86400)} d`;
}
