import { api, qs } from "../api";
import { ago, badge, fmtTime, h, notice, toast } from "../dom";
import { showError } from "./anomalies";

const NEXT = {
  approve: (r: any) =>
    `Approve: the hold on transaction ${r.heldEventId ?? "(none)"} is confirmed (it stays blocked)${r.proposedActions?.length ? `, then ${r.proposedActions.join(", ")} run` : ""}; the remediation workflow resumes and records "manual_review approved" on the anomaly and its incident. This cannot be undone here.`,
  reject: (r: any) =>
    `Reject: the hold on transaction ${r.heldEventId ?? "(none)"} is released (the transaction goes through), the anomaly is resolved as rejected in review and webhooks get anomaly.resolved; the workflow resumes and finishes. This cannot be undone here.`,
};

export async function reviews(root: HTMLElement, params: URLSearchParams): Promise<void> {
  const status = params.get("status") ?? "PENDING";
  const data: any = await api("GET", "/reviews" + qs({ status, limit: 100 }));
  const list: any[] = data.reviews ?? [];
  const details = await Promise.all(list.slice(0, 50).map((r) => api("GET", `/anomalies/${encodeURIComponent(r.anomalyId)}`).catch(() => null)));
  root.append(
    h("h1", {}, "Reviews"),
    h(
      "nav",
      { class: "tabs", "aria-label": "Review status" },
      ["PENDING", "APPROVED", "REJECTED"].map((s) => h("a", { href: `#/reviews?status=${s}`, "aria-current": s === status ? "page" : null }, s.toLowerCase())),
    ),
  );
  if (!list.length) {
    root.append(notice(`No ${status.toLowerCase()} reviews.`, status === "PENDING" ? "Held transactions and actions waiting for approval appear here as soon as the response workflow opens them." : "Decisions appear here once made."));
    return;
  }
  const rows = list.map((r, i) => {
    const a = details[i];
    const amount = a?.originalEvent?.transactionAmount;
    const panel = h("div", { class: "decide", hidden: true });
    const tr = h(
      "tr",
      { "data-review-id": r.reviewId },
      h("td", {}, a ? badge(a.severity) : "—"),
      h("td", {}, h("a", { href: `#/anomalies/${encodeURIComponent(r.anomalyId)}` }, r.summary || r.anomalyId)),
      h("td", { class: "num" }, typeof amount === "number" ? amount.toLocaleString("en-US", { minimumFractionDigits: 2 }) : "—"),
      h("td", { class: "mono" }, r.heldEventId ?? "—"),
      h("td", { title: fmtTime(r.createdAt) }, ago(r.createdAt)),
      h(
        "td",
        {},
        r.status === "PENDING"
          ? [
              h("button", { type: "button", class: "approve", onclick: () => open("approve") }, "Approve…"),
              " ",
              h("button", { type: "button", class: "reject secondary", onclick: () => open("reject") }, "Reject…"),
            ]
          : `${r.status.toLowerCase()}${r.decidedBy ? ` by ${r.decidedBy}` : ""}`,
      ),
    );
    const open = (decision: "approve" | "reject") => {
      const note = h("textarea", { class: "note", rows: 2, maxlength: 1000, placeholder: "Note for the audit trail (optional)" }) as HTMLTextAreaElement;
      const confirm = h("button", { type: "button", class: "confirm", onclick: () => void decide() }, `Confirm ${decision}`);
      panel.replaceChildren(
        h("p", { class: "next" }, h("strong", {}, "What happens next: "), NEXT[decision](r)),
        note,
        h("div", { class: "buttons" }, confirm, h("button", { type: "button", class: "secondary", onclick: () => (panel.hidden = true) }, "Cancel")),
      );
      panel.hidden = false;
      note.focus();
      const decide = async () => {
        confirm.setAttribute("disabled", "");
        try {
          const res: any = await api("POST", `/reviews/${encodeURIComponent(r.reviewId)}`, { decision, note: note.value || null });
          panel.replaceChildren(h("p", { class: "done" }, `${res.status}: the workflow has resumed.`));
          tr.querySelectorAll("button").forEach((b) => b.setAttribute("disabled", ""));
          toast(`Review ${res.status.toLowerCase()}`);
        } catch (e) {
          confirm.removeAttribute("disabled");
          showError(panel)(e);
        }
      };
    };
    return [tr, h("tr", { class: "panel-row" }, h("td", { colspan: 6 }, panel))];
  });
  root.append(
    h(
      "table",
      { class: "tbl reviews" },
      h("thead", {}, h("tr", {}, ["Severity", "What", "Amount", "Held event", "Age", "Decision"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows),
    ),
  );
}
