/**
 * React hooks over `SignalClient` and `InboxStore`.
 *
 *     const client = new SignalClient();
 *     const inbox = new InboxStore(new InboxApi({ token: tokens }), client);
 *     client.connect(tokens);
 *     <SignalProvider client={client} inbox={inbox}><App /></SignalProvider>
 *
 * Every hook unsubscribes when its component unmounts.
 *
 * Components: `<InboxBell/>`, `<Inbox/>`, `<WorkflowProgress workflowId=…/>` (see docs/client.md).
 */

import { createContext, createElement, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";

import type { SignalClient, StateChange } from "./client.js";
import type { InboxStore } from "./inbox-store.js";
import type {
  AnySignal,
  BulkAction,
  ConnectionState,
  InboxCounts,
  InboxPatch,
  InboxSignal,
  InboxStateSet,
  InboxTarget,
  SignalType,
} from "./types.js";
import { mergeSignals, summarizeWorkflow, type WorkflowProgress } from "./workflow.js";

interface SignalContextValue {
  client: SignalClient;
  inbox: InboxStore;
}

const SignalContext = createContext<SignalContextValue | null>(null);

export interface SignalProviderProps {
  client: SignalClient;
  inbox: InboxStore;
  children?: ReactNode;
}

/** Makes a client and its inbox store available to the hooks below. */
export function SignalProvider({ client, inbox, children }: SignalProviderProps) {
  const value = useMemo(() => ({ client, inbox }), [client, inbox]);
  return createElement(SignalContext.Provider, { value }, children);
}

function useSignalContext(): SignalContextValue {
  const value = useContext(SignalContext);
  if (!value) throw new Error("signalhub hooks must be used inside <SignalProvider>");
  return value;
}

export function useSignalClient(): SignalClient {
  return useSignalContext().client;
}

export function useInboxStore(): InboxStore {
  return useSignalContext().inbox;
}

export interface ConnectionStatus {
  state: ConnectionState;
  /** When reconnecting: ms until the next attempt (as of the last state change). */
  retryInMs?: number;
  /** Failed attempts in a row. */
  attempt: number;
  closeCode?: number;
}

/** The live connection's state; re-renders on every change. */
export function useConnectionState(): ConnectionStatus {
  const client = useSignalClient();
  const [status, setStatus] = useState<ConnectionStatus>(() => ({ state: client.state, attempt: 0 }));
  useEffect(() => {
    setStatus({ state: client.state, attempt: 0 });
    return client.on("state", (change: StateChange) =>
      setStatus({ state: change.state, retryInMs: change.retryInMs, attempt: change.attempt, closeCode: change.closeCode }),
    );
  }, [client]);
  return status;
}

export interface SignalFilter {
  /** Seed or custom type(s). */
  signalType?: SignalType | (string & {}) | string[];
  workflowId?: string;
  /** Keep at most this many (the newest; default 100). */
  limit?: number;
}

function matcher(filter: SignalFilter): (signal: AnySignal) => boolean {
  const types = filter.signalType === undefined ? null : ([] as string[]).concat(filter.signalType);
  return (signal) =>
    (types === null || types.includes(signal.signal_type)) &&
    (filter.workflowId === undefined || signal.workflow_id === filter.workflowId);
}

/** Live signals (oldest first), starting with those the client already holds. */
export function useSignals(filter: SignalFilter = {}): AnySignal[] {
  const client = useSignalClient();
  const limit = filter.limit ?? 100;
  const key = JSON.stringify([filter.signalType ?? null, filter.workflowId ?? null, limit]);
  const [signals, setSignals] = useState<AnySignal[]>(() => client.recent().filter(matcher(filter)).slice(-limit));
  useEffect(() => {
    const match = matcher(filter);
    setSignals(client.recent().filter(match).slice(-limit));
    return client.on("signal", (signal) => {
      if (match(signal)) setSignals((previous) => [...previous, signal].slice(-limit));
    });
    // `key` stands for the filter's contents, so an inline object does not resubscribe every render.
  }, [client, key]);
  return signals;
}

/**
 * The state of one workflow: live signals merged with the stored ones (so a
 * page opened mid-workflow, or reloaded, still shows every step).
 */
export function useWorkflowProgress(workflowId: string | null | undefined): WorkflowProgress & { loading: boolean } {
  const { client, inbox } = useSignalContext();
  const [signals, setSignals] = useState<AnySignal[]>(() => (workflowId ? client.recent(workflowId) : []));
  const [loading, setLoading] = useState(Boolean(workflowId));
  useEffect(() => {
    if (!workflowId) {
      setSignals([]);
      setLoading(false);
      return;
    }
    let active = true;
    setSignals(client.recent(workflowId));
    const load = async () => {
      setLoading(true);
      try {
        const stored: AnySignal[] = [];
        // Archived signals are still steps of the workflow.
        for await (const page of inbox.api.pages({ workflow_id: workflowId, limit: 100, archived: "any" }, 10)) {
          stored.push(...page.signals.map(stripReadState));
        }
        if (active) setSignals((previous) => mergeSignals(previous, stored));
      } catch {
        /* the live stream still works; the stored part is retried on the next resume */
      } finally {
        if (active) setLoading(false);
      }
    };
    void load();
    const offSignal = client.on("signal", (signal) => {
      if (signal.workflow_id === workflowId) setSignals((previous) => mergeSignals(previous, [signal]));
    });
    const offResumed = client.on("resumed", (message) => {
      if (!message.recovered) void load();
    });
    return () => {
      active = false;
      offSignal();
      offResumed();
    };
  }, [client, inbox, workflowId]);
  const summary = useMemo(() => summarizeWorkflow(workflowId ?? "", signals), [workflowId, signals]);
  return { ...summary, loading };
}

/** The unread count, kept in sync across tabs; `null` until known. */
export function useUnreadCount(): number | null {
  const inbox = useInboxStore();
  const [count, setCount] = useState<number | null>(inbox.unreadCount);
  useEffect(() => {
    setCount(inbox.unreadCount);
    const off = inbox.subscribe((change) => {
      if (change.type === "unread_count") setCount(change.unreadCount);
    });
    if (inbox.unreadCount === null) void inbox.refreshUnreadCount().catch(() => undefined);
    return off;
  }, [inbox]);
  return count;
}

/** Unread, unseen and total (non-archived), kept in sync across tabs and devices; `null` until known. */
export function useInboxCounts(): InboxCounts | null {
  const inbox = useInboxStore();
  const [counts, setCounts] = useState<InboxCounts | null>(inbox.counts);
  useEffect(() => {
    setCounts(inbox.counts);
    const off = inbox.subscribe((change) => {
      if (change.type === "counts") setCounts(change.counts);
    });
    void inbox.refreshCounts().catch(() => undefined);
    return off;
  }, [inbox]);
  return counts;
}

export interface InboxFilters {
  /** A seed or custom type. */
  signal_type?: SignalType | (string & {});
  workflow_id?: string;
  /** `false`: unread only; `true`: read only. */
  read?: boolean;
  /** `false` (default): not archived; `true`: archived only; `"any"`: both. */
  archived?: boolean | "any";
  /** `false`: unseen only; `true`: seen only. */
  seen?: boolean;
  /** Page size (default 20). */
  pageSize?: number;
}

export interface InboxView {
  signals: InboxSignal[];
  unreadCount: number | null;
  hasMore: boolean;
  loading: boolean;
  error: Error | null;
  loadMore(): Promise<void>;
  refresh(): Promise<void>;
  markRead(id: string): Promise<void>;
  markAllRead(): Promise<void>;
  /** Set read / seen / archived of one signal. */
  update(id: string, patch: InboxPatch): Promise<void>;
  /** Delete one signal. */
  remove(id: string): Promise<void>;
  /** One action on many signals; resolves to how many changed. */
  bulk(action: BulkAction, target: InboxTarget): Promise<number>;
}

function matchesInbox(filters: InboxFilters, signal: AnySignal): boolean {
  return (
    (filters.signal_type === undefined || signal.signal_type === filters.signal_type) &&
    (filters.workflow_id === undefined || filters.workflow_id === "" || signal.workflow_id === filters.workflow_id) &&
    filters.read !== true &&
    filters.seen !== true &&
    filters.archived !== true
  );
}

/** Does `signal` (in its current state) belong in a view with these filters? */
function inView(filters: InboxFilters, signal: InboxSignal): boolean {
  const archived = filters.archived ?? false;
  return (
    (filters.read === undefined || signal.read === filters.read) &&
    (filters.seen === undefined || Boolean(signal.seen) === filters.seen) &&
    (archived === "any" || Boolean(signal.archived) === archived)
  );
}

/** Could this change bring into the view signals it does not hold yet? Then the view refetches. */
function mayAdd(filters: InboxFilters, set: InboxStateSet): boolean {
  const archived = filters.archived ?? false;
  return (
    (set.archived !== undefined && archived !== "any" && set.archived === archived) ||
    (set.read !== undefined && filters.read !== undefined && set.read === filters.read) ||
    (set.seen !== undefined && filters.seen !== undefined && set.seen === filters.seen)
  );
}

function applyState(signal: InboxSignal, set: InboxStateSet): InboxSignal {
  const now = new Date().toISOString();
  const next = { ...signal };
  if (set.read !== undefined && set.read !== signal.read) {
    next.read = set.read;
    next.read_at = set.read ? now : null;
  }
  if (set.seen !== undefined && set.seen !== Boolean(signal.seen)) {
    next.seen = set.seen;
    next.seen_at = set.seen ? now : null;
  }
  if (set.archived !== undefined && set.archived !== Boolean(signal.archived)) {
    next.archived = set.archived;
    next.archived_at = set.archived ? now : null;
  }
  return next;
}

/**
 * A filtered, paged view of the inbox: new live signals appear at the top,
 * read state follows other tabs, and `loadMore` follows the cursor.
 */
export function useInbox(filters: InboxFilters = {}): InboxView {
  const inbox = useInboxStore();
  const unreadCount = useUnreadCount();
  const pageSize = filters.pageSize ?? 20;
  const key = JSON.stringify([
    filters.signal_type ?? null,
    filters.workflow_id || null,
    filters.read ?? null,
    filters.archived ?? false,
    filters.seen ?? null,
    pageSize,
  ]);
  const filtersRef = useRef(filters);
  filtersRef.current = filters;
  const [signals, setSignals] = useState<InboxSignal[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [hasMore, setHasMore] = useState(false);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<Error | null>(null);
  const request = useRef(0);

  const query = useCallback(() => {
    const f = filtersRef.current;
    return {
      signal_type: f.signal_type,
      workflow_id: f.workflow_id || undefined,
      read: f.read,
      archived: f.archived,
      seen: f.seen,
      limit: pageSize,
    };
  }, [pageSize]);

  const refresh = useCallback(async () => {
    const id = ++request.current;
    setLoading(true);
    try {
      const page = await inbox.api.list(query());
      if (id !== request.current) return; // a newer request (filters changed) owns the list
      setSignals(page.signals);
      setCursor(page.next_cursor);
      setHasMore(page.has_more);
      setError(null);
    } catch (e) {
      if (id === request.current) setError(e as Error);
    } finally {
      if (id === request.current) setLoading(false);
    }
  }, [inbox, query]);

  const loadMore = useCallback(async () => {
    if (!cursor) return;
    const id = request.current;
    setLoading(true);
    try {
      const page = await inbox.api.list({ ...query(), cursor });
      if (id !== request.current) return;
      setSignals((previous) => {
        const seen = new Set(previous.map((s) => s.id));
        return [...previous, ...page.signals.filter((s) => !seen.has(s.id))];
      });
      setCursor(page.next_cursor);
      setHasMore(page.has_more);
    } catch (e) {
      if (id === request.current) setError(e as Error);
    } finally {
      if (id === request.current) setLoading(false);
    }
  }, [inbox, query, cursor]);

  useEffect(() => {
    void refresh();
    return inbox.subscribe((change) => {
      const f = filtersRef.current;
      switch (change.type) {
        case "signal":
          if (matchesInbox(f, change.signal)) {
            const item: InboxSignal = {
              ...change.signal,
              read: false,
              read_at: null,
              seen: false,
              seen_at: null,
              archived: false,
              archived_at: null,
            };
            setSignals((previous) => (previous.some((s) => s.id === item.id) ? previous : [item, ...previous]));
          }
          break;
        case "read": {
          const ids = new Set(change.ids);
          setSignals((previous) =>
            f.read === false
              ? previous.filter((s) => !ids.has(s.id))
              : previous.map((s) => (ids.has(s.id) ? { ...s, read: true, read_at: s.read_at ?? change.readAt } : s)),
          );
          break;
        }
        case "all_read":
          setSignals((previous) =>
            f.read === false ? [] : previous.map((s) => (s.read ? s : { ...s, read: true, read_at: change.readAt })),
          );
          break;
        case "stale":
          void refresh();
          break;
        case "state": {
          const ids = change.ids ? new Set(change.ids) : null;
          const hit = (s: InboxSignal) =>
            change.all === true || (ids !== null && ids.has(s.id)) || (change.workflowId !== undefined && s.workflow_id === change.workflowId);
          setSignals((previous) =>
            previous.flatMap((s) => {
              if (!hit(s)) return [s];
              if (change.set.deleted) return [];
              const next = applyState(s, change.set);
              return inView(f, next) ? [next] : [];
            }),
          );
          if (!change.set.deleted && mayAdd(f, change.set)) void refresh();
          break;
        }
      }
    });
    // `key` stands for the filters (read through filtersRef), as in useSignals.
  }, [inbox, key]);

  const markRead = useCallback(async (id: string) => {
    await inbox.markRead(id);
  }, [inbox]);
  const markAllRead = useCallback(async () => {
    await inbox.markAllRead();
  }, [inbox]);

  const update = useCallback(async (id: string, patch: InboxPatch) => {
    await inbox.update(id, patch);
  }, [inbox]);
  const remove = useCallback(async (id: string) => {
    await inbox.remove(id);
  }, [inbox]);
  const bulk = useCallback((action: BulkAction, target: InboxTarget) => inbox.bulk(action, target), [inbox]);

  return { signals, unreadCount, hasMore, loading, error, loadMore, refresh, markRead, markAllRead, update, remove, bulk };
}

function stripReadState(signal: InboxSignal): AnySignal {
  const { read: _read, read_at: _readAt, seen: _seen, seen_at: _seenAt, archived: _archived, archived_at: _archivedAt, ...rest } =
    signal;
  return rest as AnySignal;
}

// Ready-made components (unstyled; `@signalhub/client/styles.css` is an optional look).
export { Inbox, summarizeSignal } from "./components/Inbox.js";
export type { InboxProps, InboxTab } from "./components/Inbox.js";
export { InboxBell } from "./components/InboxBell.js";
export type { InboxBellProps } from "./components/InboxBell.js";
export { WorkflowProgress, defaultSignalLine } from "./components/WorkflowProgress.js";
export type { WorkflowProgressProps } from "./components/WorkflowProgress.js";
