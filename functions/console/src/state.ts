// Shared helpers for the views.
export const SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW"] as const;
export const TYPES = ["velocity", "value", "geolocation", "behavioral", "system", "usage", "cost", "rule", "ml"] as const;

export interface Anomaly {
  anomalyId: string;
  severity: string;
  anomalyScore: number;
  detectedAt: string;
  userId: string;
  anomalyType: string;
  description: string;
  originalEvent: Record<string, any>;
  actionsPerformed: Record<string, any>[];
  explanation: { feature: string; observed?: number | string | null; expected?: number | string | null; detail?: string | null }[];
  detector?: string | null;
  entities?: Record<string, string>;
  feedback?: { label: string; note?: string; submittedBy?: string; submittedAt?: string };
  incidentId?: string;
  [k: string]: unknown;
}

export function latencySeconds(a: Anomaly): number | null {
  const t = Date.parse(a.originalEvent?.timestamp ?? "");
  const d = Date.parse(a.detectedAt);
  if (Number.isNaN(t) || Number.isNaN(d) || a.anomalyType === "cost") return null;
  return Math.max(0, (d - t) / 1000);
}

export function quantile(values: number[], q: number): number | null {
  if (!values.length) return null;
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.floor(q * v.length))];
}

/** docs/reports.md: 100 x (0.4 coverage + 0.3 (1 - FPR) + 0.3 timeliness). */
export function postureScore(anomalies: Anomaly[]): number {
  const serious = anomalies.filter((a) => a.severity === "HIGH" || a.severity === "CRITICAL");
  const coverage = serious.length ? serious.filter((a) => (a.actionsPerformed ?? []).length > 0).length / serious.length : 1;
  const tp = anomalies.filter((a) => a.feedback?.label === "true_positive").length;
  const fp = anomalies.filter((a) => a.feedback?.label === "false_positive").length;
  const fpr = tp + fp ? fp / (tp + fp) : 0;
  const lat = anomalies.map(latencySeconds).filter((v): v is number => v !== null);
  const mttd = lat.length ? lat.reduce((x, y) => x + y, 0) / lat.length : null;
  const timeliness = mttd === null ? 1 : Math.max(0, 1 - mttd / 900);
  return 100 * (0.4 * coverage + 0.3 * (1 - fpr) + 0.3 * timeliness);
}
