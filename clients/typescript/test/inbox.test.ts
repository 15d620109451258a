import { describe, expect, it } from "vitest";

import { HttpError } from "../src/http.js";
import { InboxApi } from "../src/inbox.js";
import type { InboxPage, InboxSignal } from "../src/types.js";
import { fakeFetch, signal } from "./fakes.js";

const BASE = "http://127.0.0.1:9";

function stored(seq: number, read = false): InboxSignal {
  return { ...signal(seq), read, read_at: read ? "2026-01-01T00:00:00Z" : null };
}

describe("InboxApi", () => {
  it("lists with filters, a cursor and the bearer token", async () => {
    const page: InboxPage = { signals: [stored(3), stored(2)], has_more: true, next_cursor: "2" };
    const { fetch, requests } = fakeFetch({ "GET /api/v1/inbox/signals": () => ({ body: page }) });
    const api = new InboxApi({ baseUrl: `${BASE}/`, token: "jwt", fetch });
    const result = await api.list({
      limit: 2,
      cursor: "9",
      signal_type: "progress",
      workflow_id: "doc 1",
      read: false,
      since: new Date("2026-01-01T00:00:00Z"),
    });
    expect(result).toEqual(page);
    const [request] = requests;
    expect(request!.headers.Authorization).toBe("Bearer jwt");
    expect(Object.fromEntries(request!.url.searchParams)).toEqual({
      limit: "2",
      cursor: "9",
      signal_type: "progress",
      workflow_id: "doc 1",
      read: "false",
      since: "2026-01-01T00:00:00.000Z",
    });
  });

  it("follows next_cursor through every page", async () => {
    const pages: Record<string, InboxPage> = {
      first: { signals: [stored(5), stored(4)], has_more: true, next_cursor: "4" },
      "4": { signals: [stored(3), stored(2)], has_more: true, next_cursor: "2" },
      "2": { signals: [stored(1)], has_more: false, next_cursor: null },
    };
    const { fetch, requests } = fakeFetch({
      "GET /api/v1/inbox/signals": (r) => ({ body: pages[r.url.searchParams.get("cursor") ?? "first"] }),
    });
    const api = new InboxApi({ baseUrl: BASE, token: "jwt", fetch });
    const seqs: number[] = [];
    for await (const page of api.pages({ limit: 2, workflow_id: "wf-1" })) seqs.push(...page.signals.map((s) => s.seq));
    expect(seqs).toEqual([5, 4, 3, 2, 1]);
    expect(requests.map((r) => r.url.searchParams.get("cursor"))).toEqual([null, "4", "2"]);
    expect(requests.every((r) => r.url.searchParams.get("workflow_id") === "wf-1")).toBe(true);
  });

  it("reads the unread count, marks one read and marks all read", async () => {
    const { fetch, requests } = fakeFetch({
      "GET /api/v1/inbox/signals/unread-count": () => ({ body: { unread_count: 7 } }),
      "POST /api/v1/inbox/signals/00000000-0000-4000-8000-000000000003/read": () => ({ body: stored(3, true) }),
      "POST /api/v1/inbox/signals/mark-all-read": () => ({ body: { updated: 6 } }),
    });
    const api = new InboxApi({ baseUrl: BASE, token: "jwt", fetch });
    expect(await api.unreadCount()).toBe(7);
    const marked = await api.markRead(signal(3).id);
    expect(marked.read).toBe(true);
    expect(await api.markAllRead()).toBe(6);
    expect(requests.map((r) => `${r.method} ${r.url.pathname}`)).toEqual([
      "GET /api/v1/inbox/signals/unread-count",
      "POST /api/v1/inbox/signals/00000000-0000-4000-8000-000000000003/read",
      "POST /api/v1/inbox/signals/mark-all-read",
    ]);
  });

  it("throws HttpError with the server's detail for an unknown id", async () => {
    const { fetch } = fakeFetch({
      "POST /api/v1/inbox/signals/nope/read": () => ({ status: 404, body: { detail: "signal not found" } }),
    });
    const api = new InboxApi({ baseUrl: BASE, token: "jwt", fetch });
    const error = await api.markRead("nope").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).status).toBe(404);
    expect((error as HttpError).message).toContain("signal not found");
  });

  it("refreshes an expired token once and retries", async () => {
    const { fetch, requests } = fakeFetch({
      "GET /api/v1/inbox/signals/unread-count": (r) =>
        r.headers.Authorization === "Bearer fresh" ? { body: { unread_count: 1 } } : { status: 401, body: { detail: "token expired" } },
    });
    const reasons: string[] = [];
    const api = new InboxApi({
      baseUrl: BASE,
      fetch,
      token: ({ reason }) => {
        reasons.push(reason);
        return reason === "initial" ? "stale" : "fresh";
      },
    });
    expect(await api.unreadCount()).toBe(1);
    expect(reasons).toEqual(["initial", "expired"]);
    expect(requests.map((r) => r.headers.Authorization)).toEqual(["Bearer stale", "Bearer fresh"]);
    expect(await api.unreadCount()).toBe(1); // the fresh token is kept
    expect(reasons).toHaveLength(2);
  });

  it("gives up on 401 when the token is a fixed string", async () => {
    const { fetch, requests } = fakeFetch({
      "GET /api/v1/inbox/signals/unread-count": () => ({ status: 401, body: { detail: "token expired" } }),
    });
    const api = new InboxApi({ baseUrl: BASE, token: "fixed", fetch });
    await expect(api.unreadCount()).rejects.toMatchObject({ status: 401 });
    expect(requests).toHaveLength(1);
  });

  it("sends PATCH, DELETE, bulk and counts to the inbox state endpoints", async () => {
    const { fetch, requests } = fakeFetch({
      [`PATCH /api/v1/inbox/signals/${signal(1).id}`]: () => ({ body: { ...stored(1), seen: true } }),
      [`DELETE /api/v1/inbox/signals/${signal(1).id}`]: () => ({ status: 204 }),
      "POST /api/v1/inbox/bulk": () => ({ body: { updated: 3 } }),
      "GET /api/v1/inbox/counts": () => ({ body: { unread: 1, unseen: 0, total: 4 } }),
      "GET /api/v1/inbox/signals": () => ({ body: { signals: [], has_more: false, next_cursor: null } }),
    });
    const api = new InboxApi({ baseUrl: BASE, token: "jwt", fetch });
    expect((await api.update(signal(1).id, { seen: true, archived: false })).seen).toBe(true);
    await expect(api.remove(signal(1).id)).resolves.toBeUndefined();
    expect(await api.bulk("archive", { workflow_id: "doc 1" })).toBe(3);
    expect(await api.counts()).toEqual({ unread: 1, unseen: 0, total: 4 });
    await api.list({ archived: "any", seen: false });
    expect(requests.map((r) => [r.method, r.body ?? null])).toEqual([
      ["PATCH", { seen: true, archived: false }],
      ["DELETE", null],
      ["POST", { action: "archive", workflow_id: "doc 1" }],
      ["GET", null],
      ["GET", null],
    ]);
    expect(Object.fromEntries(requests[4]!.url.searchParams)).toEqual({ archived: "any", seen: "false" });
  });
});
