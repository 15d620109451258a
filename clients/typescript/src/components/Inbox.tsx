/**
 * `<Inbox/>`: the user's signals in three tabs (unread / all / archived), with
 * per-item and bulk actions and infinite scroll by cursor. Unstyled: class
 * names start with `sh-` (`@signalhub/client/styles.css` is an optional look).
 *
 * Keyboard: in the tab list, ←/→/Home/End switch tabs. In the list, ↑/↓/Home/End
 * move between items; on an item, `r` toggles read, `e` archives (or restores),
 * Delete removes it, Space selects it for a bulk action.
 */

import { useCallback, useEffect, useId, useMemo, useRef, useState, type KeyboardEvent, type ReactNode } from "react";

import { useInbox, useInboxStore, useUnreadCount } from "../react.js";
import { isSeedSignal, type BulkAction, type InboxSignal, type SignalType } from "../types.js";

export type InboxTab = "unread" | "all" | "archived";

export interface InboxProps {
  /** The tab shown first (default `all`). */
  defaultTab?: InboxTab;
  /** Which tabs, in order (default all three). */
  tabs?: InboxTab[];
  /** Page size of each fetch (default 20). */
  pageSize?: number;
  /** Show a signal-type select and a workflow-id field above the list (default false). */
  showFilters?: boolean;
  /** Only this workflow's signals. */
  workflowId?: string;
  /** Mark every item shown as seen (what `<InboxBell/>` does when opened). */
  markShownSeen?: boolean;
  /** The heading (default "Inbox"). */
  title?: ReactNode;
  /** The body of one item (default: type, summary, time and workflow). */
  renderItem?: (signal: InboxSignal) => ReactNode;
  className?: string;
}

const TAB_LABELS: Record<InboxTab, string> = { unread: "Unread", all: "All", archived: "Archived" };
const TYPES: { value: SignalType | ""; label: string }[] = [
  { value: "", label: "All types" },
  { value: "status_update", label: "Status" },
  { value: "progress", label: "Progress" },
  { value: "completion", label: "Completion" },
  { value: "error", label: "Error" },
];

/** A one-line description of a signal. */
export function summarizeSignal(signal: InboxSignal): string {
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

function defaultItem(signal: InboxSignal): ReactNode {
  return (
    <>
      <span className={`sh-type sh-type-${signal.signal_type}`}>{signal.signal_type.replace("_", " ")}</span>
      <span className="sh-summary">{summarizeSignal(signal)}</span>
      <span className="sh-meta sh-muted" title={signal.workflow_id}>
        {new Date(signal.timestamp).toLocaleTimeString()} · {signal.workflow_id}
      </span>
    </>
  );
}

export function Inbox({
  defaultTab = "all",
  tabs = ["unread", "all", "archived"],
  pageSize = 20,
  showFilters = false,
  workflowId,
  markShownSeen = false,
  title = "Inbox",
  renderItem = defaultItem,
  className,
}: InboxProps) {
  const baseId = useId();
  const inbox = useInboxStore();
  const unreadCount = useUnreadCount();
  const [tab, setTab] = useState<InboxTab>(tabs.includes(defaultTab) ? defaultTab : tabs[0]);
  const [signalType, setSignalType] = useState<SignalType | "">("");
  const [workflowFilter, setWorkflowFilter] = useState("");
  const [selected, setSelected] = useState<Set<string>>(() => new Set());
  const [focusId, setFocusId] = useState<string | null>(null);
  const view = useInbox({
    signal_type: signalType || undefined,
    workflow_id: workflowId ?? (workflowFilter.trim() || undefined),
    read: tab === "unread" ? false : undefined,
    archived: tab === "archived",
    pageSize,
  });
  const listRef = useRef<HTMLUListElement>(null);
  const sentinelRef = useRef<HTMLDivElement>(null);
  const tabRefs = useRef(new Map<InboxTab, HTMLButtonElement>());

  // Keep the selection to what is shown.
  useEffect(() => {
    setSelected((previous) => {
      const shown = new Set(view.signals.map((s) => s.id));
      const kept = new Set([...previous].filter((id) => shown.has(id)));
      return kept.size === previous.size ? previous : kept;
    });
  }, [view.signals]);
  useEffect(() => setSelected(new Set()), [tab]);

  // The bell: whatever is shown has been seen (each id asked for once).
  const askedSeen = useRef(new Set<string>());
  useEffect(() => {
    if (!markShownSeen) return;
    const ids = view.signals.filter((s) => s.seen === false && !askedSeen.current.has(s.id)).map((s) => s.id);
    if (ids.length === 0) return;
    ids.forEach((id) => askedSeen.current.add(id));
    void inbox.markSeen(ids).catch(() => ids.forEach((id) => askedSeen.current.delete(id)));
  }, [markShownSeen, view.signals, inbox]);

  // Infinite scroll: load the next page when the end of the list comes into view.
  const { hasMore, loading, loadMore } = view;
  useEffect(() => {
    const sentinel = sentinelRef.current;
    if (!sentinel || !hasMore || typeof IntersectionObserver === "undefined") return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && !loading) void loadMore();
    });
    observer.observe(sentinel);
    return () => observer.disconnect();
  }, [hasMore, loading, loadMore]);

  const act = useCallback(
    (signal: InboxSignal, what: "read" | "archive" | "delete") => {
      if (what === "delete") return view.remove(signal.id);
      if (what === "read") return view.update(signal.id, { read: !signal.read });
      return view.update(signal.id, { archived: !signal.archived });
    },
    [view],
  );

  const bulk = (action: BulkAction) => {
    const ids = [...selected];
    if (ids.length) void view.bulk(action, { ids }).then(() => setSelected(new Set()));
  };

  const focusItem = (id: string | undefined) => {
    if (!id) return;
    setFocusId(id);
    listRef.current?.querySelector<HTMLElement>(`[data-id="${CSS.escape(id)}"]`)?.focus();
  };

  const onTabKey = (event: KeyboardEvent<HTMLButtonElement>) => {
    const index = tabs.indexOf(tab);
    const next =
      event.key === "ArrowRight" ? tabs[(index + 1) % tabs.length]
      : event.key === "ArrowLeft" ? tabs[(index - 1 + tabs.length) % tabs.length]
      : event.key === "Home" ? tabs[0]
      : event.key === "End" ? tabs[tabs.length - 1]
      : null;
    if (!next) return;
    event.preventDefault();
    setTab(next);
    tabRefs.current.get(next)?.focus();
  };

  const onItemKey = (event: KeyboardEvent<HTMLLIElement>, signal: InboxSignal, index: number) => {
    if (event.target !== event.currentTarget) return; // keys typed on the item's own buttons
    const ids = view.signals.map((s) => s.id);
    const moves: Record<string, string | undefined> = {
      ArrowDown: ids[Math.min(index + 1, ids.length - 1)],
      ArrowUp: ids[Math.max(index - 1, 0)],
      Home: ids[0],
      End: ids[ids.length - 1],
    };
    if (event.key in moves) {
      event.preventDefault();
      focusItem(moves[event.key]);
    } else if (event.key === "r") {
      void act(signal, "read");
    } else if (event.key === "e") {
      void act(signal, "archive");
    } else if (event.key === "Delete" || event.key === "Backspace") {
      event.preventDefault();
      focusItem(ids[index + 1] ?? ids[index - 1]);
      void act(signal, "delete");
    } else if (event.key === " ") {
      event.preventDefault();
      toggle(signal.id);
    }
  };

  const toggle = (id: string) =>
    setSelected((previous) => {
      const next = new Set(previous);
      if (!next.delete(id)) next.add(id);
      return next;
    });

  const allSelected = view.signals.length > 0 && selected.size === view.signals.length;
  const tabbableId = useMemo(
    () => (focusId && view.signals.some((s) => s.id === focusId) ? focusId : view.signals[0]?.id),
    [focusId, view.signals],
  );
  const panelId = `${baseId}-panel`;

  return (
    <section className={["sh-inbox", className].filter(Boolean).join(" ")} aria-labelledby={`${baseId}-title`}>
      <header className="sh-inbox-header">
        <h2 id={`${baseId}-title`}>{title}</h2>
        <span className="sh-unread" data-testid="unread-badge" data-count={unreadCount ?? ""} title="unread signals">
          <strong>{unreadCount ?? "…"}</strong> unread
        </span>
        <button type="button" onClick={() => void view.markAllRead()} disabled={unreadCount === 0} data-testid="mark-all-read">
          Mark all read
        </button>
      </header>
      <div role="tablist" aria-label="Inbox views" className="sh-tabs">
        {tabs.map((t) => (
          <button
            key={t}
            ref={(el) => {
              if (el) tabRefs.current.set(t, el);
              else tabRefs.current.delete(t);
            }}
            type="button"
            role="tab"
            id={`${baseId}-tab-${t}`}
            aria-selected={tab === t}
            aria-controls={panelId}
            tabIndex={tab === t ? 0 : -1}
            onClick={() => setTab(t)}
            onKeyDown={onTabKey}
            data-testid={`inbox-tab-${t}`}
          >
            {TAB_LABELS[t]}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={panelId} aria-labelledby={`${baseId}-tab-${tab}`} className="sh-inbox-panel">
        {showFilters && (
          <div className="sh-filters">
            <select aria-label="signal type" value={signalType} onChange={(e) => setSignalType(e.target.value as SignalType | "")} data-testid="filter-type">
              {TYPES.map((t) => (
                <option key={t.value} value={t.value}>
                  {t.label}
                </option>
              ))}
            </select>
            {workflowId === undefined && (
              <input
                aria-label="workflow id"
                placeholder="workflow id"
                value={workflowFilter}
                onChange={(e) => setWorkflowFilter(e.target.value)}
                data-testid="filter-workflow"
              />
            )}
          </div>
        )}
        <div className="sh-bulk" role="toolbar" aria-label="Selected signals">
          <label>
            <input
              type="checkbox"
              checked={allSelected}
              disabled={view.signals.length === 0}
              onChange={() => setSelected(allSelected ? new Set() : new Set(view.signals.map((s) => s.id)))}
              data-testid="select-all"
            />{" "}
            {selected.size ? `${selected.size} selected` : "Select all"}
          </label>
          {selected.size > 0 && (
            <>
              <button type="button" onClick={() => bulk("read")} data-testid="bulk-read">Mark read</button>
              <button type="button" onClick={() => bulk("unread")} data-testid="bulk-unread">Mark unread</button>
              {tab === "archived" ? (
                <button type="button" onClick={() => bulk("unarchive")} data-testid="bulk-unarchive">Restore</button>
              ) : (
                <button type="button" onClick={() => bulk("archive")} data-testid="bulk-archive">Archive</button>
              )}
              <button type="button" onClick={() => bulk("delete")} data-testid="bulk-delete">Delete</button>
            </>
          )}
        </div>
        {view.error && (
          <p className="sh-error" role="alert">
            {view.error.message}
          </p>
        )}
        <ul className="sh-inbox-list" ref={listRef} aria-label={`${TAB_LABELS[tab]} signals`} aria-busy={view.loading} data-testid="inbox-list">
          {view.signals.map((signal, index) => (
            <li
              key={signal.id}
              className={["sh-item", signal.read ? "sh-read" : "sh-unread", signal.seen === false ? "sh-unseen" : ""].filter(Boolean).join(" ")}
              tabIndex={signal.id === tabbableId ? 0 : -1}
              aria-keyshortcuts="r e Delete Space ArrowUp ArrowDown"
              aria-label={`${signal.read ? "" : "Unread: "}${summarizeSignal(signal)}`}
              onFocus={(e) => e.target === e.currentTarget && setFocusId(signal.id)}
              onKeyDown={(e) => onItemKey(e, signal, index)}
              data-testid="inbox-item"
              data-id={signal.id}
              data-seq={signal.seq}
              data-type={signal.signal_type}
              data-read={String(signal.read)}
              data-seen={String(Boolean(signal.seen))}
              data-archived={String(Boolean(signal.archived))}
            >
              <input
                type="checkbox"
                tabIndex={-1}
                aria-label="Select"
                checked={selected.has(signal.id)}
                onChange={() => toggle(signal.id)}
                data-testid="select-item"
              />
              <div className="sh-item-body">{renderItem(signal)}</div>
              <div className="sh-item-actions">
                <button type="button" className="sh-link" onClick={() => void act(signal, "read")} data-testid={signal.read ? "mark-unread" : "mark-read"}>
                  {signal.read ? "Mark unread" : "Mark read"}
                </button>
                <button type="button" className="sh-link" onClick={() => void act(signal, "archive")} data-testid={signal.archived ? "unarchive" : "archive"}>
                  {signal.archived ? "Restore" : "Archive"}
                </button>
                <button type="button" className="sh-link" onClick={() => void act(signal, "delete")} data-testid="delete">
                  Delete
                </button>
              </div>
            </li>
          ))}
        </ul>
        {!view.loading && view.signals.length === 0 && <p className="sh-muted sh-empty">Nothing here.</p>}
        {view.hasMore && (
          <>
            <div ref={sentinelRef} className="sh-sentinel" aria-hidden="true" />
            <button type="button" onClick={() => void view.loadMore()} disabled={view.loading} data-testid="load-more">
              Load older
            </button>
          </>
        )}
      </div>
    </section>
  );
}
