/**
 * An in-memory inbox server behind a fetch: lists (tabs, cursor), counts,
 * PATCH, DELETE and bulk, with the same rules as the real API. When given
 * sockets, it announces each change to them as the real server does.
 */

import type { BulkAction, InboxSignal, InboxStateSet } from "../src/types.js";
import { signal, type FakeWebSocket, type RecordedRequest } from "./fakes.js";

export function stored(seq: number, state: Partial<InboxSignal> = {}, workflow = "wf-1"): InboxSignal {
  return {
    ...signal(seq, "progress", workflow),
    read: false,
    read_at: null,
    seen: false,
    seen_at: null,
    archived: false,
    archived_at: null,
    ...state,
  } as InboxSignal;
}

const SET: Record<BulkAction, InboxStateSet> = {
  read: { read: true, seen: true },
  unread: { read: false },
  seen: { seen: true },
  archive: { archived: true },
  unarchive: { archived: false },
  delete: { deleted: true },
};

export class FakeInboxServer {
  readonly requests: RecordedRequest[] = [];
  readonly sockets: FakeWebSocket[] = [];

  constructor(public signals: InboxSignal[]) {}

  counts() {
    const live = this.signals.filter((s) => !s.archived);
    return { unread: live.filter((s) => !s.read).length, unseen: live.filter((s) => !s.seen).length, total: live.length };
  }

  /** Apply `set` to the signals `pick` chooses; returns the ids that changed. */
  apply(set: InboxStateSet, pick: (s: InboxSignal) => boolean): string[] {
    const changed: string[] = [];
    const now = "2026-01-02T00:00:00Z";
    this.signals = this.signals.flatMap((s) => {
      if (!pick(s)) return [s];
      if (set.deleted) {
        changed.push(s.id);
        return [];
      }
      const next = { ...s };
      if (set.read !== undefined) Object.assign(next, { read: set.read, read_at: set.read ? now : null });
      if (set.seen !== undefined || set.read) Object.assign(next, { seen: set.seen ?? true, seen_at: now });
      if (set.archived !== undefined) Object.assign(next, { archived: set.archived, archived_at: set.archived ? now : null });
      if (next.read !== s.read || next.seen !== s.seen || next.archived !== s.archived) changed.push(s.id);
      return [next];
    });
    return changed;
  }

  private announce(set: InboxStateSet, target: Record<string, unknown>) {
    const counts = this.counts();
    for (const socket of this.sockets) socket.serverSend({ type: "inbox", unread_count: counts.unread, counts, change: { set, ...target } });
  }

  fetch = async (input: string, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(input);
    const method = init.method ?? "GET";
    const body = typeof init.body === "string" ? JSON.parse(init.body) : undefined;
    this.requests.push({ method, url, headers: { ...(init.headers as Record<string, string>) }, body });
    const json = (value: unknown, status = 200) => new Response(JSON.stringify(value), { status });
    const path = url.pathname;
    const one = path.match(/^\/api\/v1\/inbox\/signals\/([0-9a-f-]{36})$/);
    if (method === "GET" && path === "/api/v1/inbox/signals") {
      const q = url.searchParams;
      const archived = q.get("archived") ?? "false";
      let list = [...this.signals].sort((a, b) => b.seq - a.seq);
      list = list.filter((s) => archived === "any" || String(Boolean(s.archived)) === archived);
      if (q.has("read")) list = list.filter((s) => String(s.read) === q.get("read"));
      if (q.has("workflow_id")) list = list.filter((s) => s.workflow_id === q.get("workflow_id"));
      if (q.has("cursor")) list = list.filter((s) => s.seq < Number(q.get("cursor")));
      const limit = Number(q.get("limit") ?? 50);
      const page = list.slice(0, limit);
      const hasMore = list.length > limit;
      return json({ signals: page, has_more: hasMore, next_cursor: hasMore ? String(page.at(-1)!.seq) : null });
    }
    if (method === "GET" && path === "/api/v1/inbox/counts") return json(this.counts());
    if (method === "GET" && path === "/api/v1/inbox/signals/unread-count") return json({ unread_count: this.counts().unread });
    if (method === "POST" && path === "/api/v1/inbox/signals/mark-all-read") {
      const changed = this.apply({ read: true }, (s) => !s.read);
      if (changed.length) this.announce({ read: true, seen: true }, { all: true });
      return json({ updated: changed.length });
    }
    if (one && method === "PATCH") {
      if (!this.signals.some((s) => s.id === one[1])) return json({ detail: "signal not found" }, 404);
      const changed = this.apply(body, (s) => s.id === one[1]);
      if (changed.length) this.announce(body, { ids: changed });
      return json(this.signals.find((s) => s.id === one[1]));
    }
    if (one && method === "DELETE") {
      const changed = this.apply({ deleted: true }, (s) => s.id === one[1]);
      if (!changed.length) return json({ detail: "signal not found" }, 404);
      this.announce({ deleted: true }, { ids: changed });
      return new Response(null, { status: 204 });
    }
    if (method === "POST" && path === "/api/v1/inbox/bulk") {
      const { action, ...target } = body as { action: BulkAction; ids?: string[]; workflow_id?: string; all?: true };
      const pick = (s: InboxSignal) =>
        target.all === true || (target.ids?.includes(s.id) ?? false) || s.workflow_id === target.workflow_id;
      const changed = this.apply(SET[action], pick);
      if (changed.length) this.announce(SET[action], target.ids ? { ids: changed } : target);
      return json({ updated: changed.length });
    }
    return json({ detail: "Not Found" }, 404);
  };
}
