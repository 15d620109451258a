/** Typed helpers for the inbox REST endpoints (`/api/v1/inbox/...`). */

import { HttpApi, type HttpApiOptions } from "./http.js";
import type { BulkAction, InboxCounts, InboxPage, InboxPatch, InboxQuery, InboxSignal, InboxTarget } from "./types.js";

const ROOT = "/api/v1/inbox";
const BASE = `${ROOT}/signals`;

export class InboxApi {
  readonly http: HttpApi;

  constructor(options: HttpApiOptions | HttpApi) {
    this.http = options instanceof HttpApi ? options : new HttpApi(options);
  }

  /** One page of the user's signals, newest first; pass `next_cursor` back as `cursor` for the next page. */
  list(query: InboxQuery = {}, init: { signal?: AbortSignal } = {}): Promise<InboxPage> {
    const { limit, offset, cursor, signal_type, workflow_id, read, archived, seen, since, until } = query;
    return this.http.request<InboxPage>("GET", BASE, {
      query: { limit, offset, cursor, signal_type, workflow_id, read, archived, seen, since, until },
      signal: init.signal,
    });
  }

  /** Every page of a query, following the cursor; stops after `maxPages` (default 100). */
  async *pages(query: Omit<InboxQuery, "cursor" | "offset"> = {}, maxPages = 100): AsyncGenerator<InboxPage> {
    let cursor: string | null = null;
    for (let page = 0; page < maxPages; page++) {
      const result: InboxPage = await this.list({ ...query, cursor });
      yield result;
      if (!result.has_more || !result.next_cursor) return;
      cursor = result.next_cursor;
    }
  }

  /** How many of the user's signals are unread. */
  async unreadCount(): Promise<number> {
    const body = await this.http.request<{ unread_count: number }>("GET", `${BASE}/unread-count`);
    return body.unread_count;
  }

  /** Mark one signal read; resolves to the stored signal (throws `HttpError` 404 for an unknown id). */
  markRead(id: string): Promise<InboxSignal> {
    return this.http.request<InboxSignal>("POST", `${BASE}/${encodeURIComponent(id)}/read`);
  }

  /** Mark every unread signal read; resolves to how many changed. */
  async markAllRead(): Promise<number> {
    const body = await this.http.request<{ updated: number }>("POST", `${BASE}/mark-all-read`);
    return body.updated;
  }

  /** Unread, unseen and total among the user's non-archived signals. */
  counts(): Promise<InboxCounts> {
    return this.http.request<InboxCounts>("GET", `${ROOT}/counts`);
  }

  /** Set read, seen and/or archived of one signal; resolves to the stored signal (`HttpError` 404 for an unknown id). */
  update(id: string, patch: InboxPatch): Promise<InboxSignal> {
    return this.http.request<InboxSignal>("PATCH", `${BASE}/${encodeURIComponent(id)}`, { body: patch });
  }

  /** Delete one signal for this user (gone from every list and count). */
  async remove(id: string): Promise<void> {
    await this.http.request<void>("DELETE", `${BASE}/${encodeURIComponent(id)}`);
  }

  /** Apply one action to many signals (`ids` up to 1,000, a workflow's, or all); resolves to how many changed. */
  async bulk(action: BulkAction, target: InboxTarget): Promise<number> {
    const body = await this.http.request<{ updated: number }>("POST", `${ROOT}/bulk`, { body: { action, ...target } });
    return body.updated;
  }
}
