import { useState } from "react";

import { isSeedSignal, type InboxSignal, type SignalType } from "@signalhub/client";
import { useInbox, useUnreadCount } from "@signalhub/client/react";

const TYPES: { value: SignalType | ""; label: string }[] = [
  { value: "", label: "All types" },
  { value: "status_update", label: "Status" },
  { value: "progress", label: "Progress" },
  { value: "completion", label: "Completion" },
  { value: "error", label: "Error" },
];

/** The unread count, the same in every tab of this browser. */
export function UnreadBadge() {
  const count = useUnreadCount();
  return (
    <span className="unread" data-testid="unread-badge" data-count={count ?? ""} title="unread signals">
      Inbox <strong>{count ?? "…"}</strong> unread
    </span>
  );
}

export function Inbox() {
  const [signalType, setSignalType] = useState<SignalType | "">("");
  const [readFilter, setReadFilter] = useState<"" | "unread" | "read">("");
  const [workflowId, setWorkflowId] = useState("");
  const view = useInbox({
    signal_type: signalType || undefined,
    read: readFilter === "" ? undefined : readFilter === "read",
    workflow_id: workflowId.trim() || undefined,
    pageSize: 20,
  });

  return (
    <section className="card inbox" aria-labelledby="inbox-title">
      <header className="inbox-header">
        <h2 id="inbox-title">Inbox</h2>
        <button
          type="button"
          onClick={() => void view.markAllRead()}
          disabled={view.unreadCount === 0}
          data-testid="mark-all-read"
        >
          Mark all read
        </button>
      </header>
      <div className="filters">
        <select aria-label="signal type" value={signalType} onChange={(e) => setSignalType(e.target.value as SignalType | "")} data-testid="filter-type">
          {TYPES.map((t) => (
            <option key={t.value} value={t.value}>
              {t.label}
            </option>
          ))}
        </select>
        <select aria-label="read state" value={readFilter} onChange={(e) => setReadFilter(e.target.value as "" | "unread" | "read")} data-testid="filter-read">
          <option value="">Read and unread</option>
          <option value="unread">Unread only</option>
          <option value="read">Read only</option>
        </select>
        <input
          aria-label="workflow id"
          placeholder="workflow id"
          value={workflowId}
          onChange={(e) => setWorkflowId(e.target.value)}
          data-testid="filter-workflow"
        />
      </div>
      {view.error && (
        <p className="error" role="alert">
          {view.error.message}
        </p>
      )}
      <ul className="inbox-list" data-testid="inbox-list" aria-busy={view.loading}>
        {view.signals.map((signal) => (
          <InboxItem key={signal.id} signal={signal} onMarkRead={() => void view.markRead(signal.id)} />
        ))}
      </ul>
      {!view.loading && view.signals.length === 0 && <p className="muted">Nothing here.</p>}
      {view.hasMore && (
        <button type="button" onClick={() => void view.loadMore()} disabled={view.loading} data-testid="load-more">
          Load older
        </button>
      )}
    </section>
  );
}

function InboxItem({ signal, onMarkRead }: { signal: InboxSignal; onMarkRead: () => void }) {
  return (
    <li
      className={signal.read ? "read" : "unread"}
      data-testid="inbox-item"
      data-id={signal.id}
      data-seq={signal.seq}
      data-type={signal.signal_type}
      data-read={String(signal.read)}
    >
      <span className={`type type-${signal.signal_type}`}>{signal.signal_type.replace("_", " ")}</span>
      <span className="summary">{summary(signal)}</span>
      <span className="meta muted" title={signal.workflow_id}>
        {new Date(signal.timestamp).toLocaleTimeString()} · {signal.workflow_id}
      </span>
      {!signal.read && (
        <button type="button" className="link" onClick={onMarkRead} data-testid="mark-read">
          Mark read
        </button>
      )}
    </li>
  );
}

function summary(signal: InboxSignal): string {
  if (!isSeedSignal(signal)) return JSON.stringify(signal.data).slice(0, 120); // a custom type: its data as is
  switch (signal.signal_type) {
    case "status_update":
      return signal.data.message ? `${signal.data.status}: ${signal.data.message}` : signal.data.status;
    case "progress":
      return `${signal.data.step ?? "progress"} ${Math.round(signal.data.progress * 100)}%`;
    case "completion":
      return signal.data.message ?? "completed";
    case "error":
      return signal.data.error_code ? `${signal.data.error} (${signal.data.error_code})` : signal.data.error;
  }
}
