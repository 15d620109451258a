import { afterEach, describe, expect, it, vi } from "vitest";

import { SignalClient } from "../src/client.js";
import { InboxApi } from "../src/inbox.js";
import { InboxStore, type InboxChange } from "../src/inbox-store.js";
import type { InboxSignal } from "../src/types.js";
import { FakeWebSocket, fakeFetch, signal } from "./fakes.js";

const USER = "11111111-1111-4111-8111-111111111111";
const stores: InboxStore[] = [];

/** A tiny in-memory server inbox behind a fake fetch. */
function server(unread: number[]) {
  const unreadSeqs = new Set(unread);
  return fakeFetch({
    "GET /api/v1/inbox/signals/unread-count": () => ({ body: { unread_count: unreadSeqs.size } }),
    "POST /api/v1/inbox/signals/mark-all-read": () => {
      const updated = unreadSeqs.size;
      unreadSeqs.clear();
      return { body: { updated } };
    },
    ...Object.fromEntries(
      unread.map((seq) => [
        `POST /api/v1/inbox/signals/${signal(seq).id}/read`,
        () => {
          unreadSeqs.delete(seq);
          const body: InboxSignal = { ...signal(seq), read: true, read_at: "2026-01-01T00:00:09Z" };
          return { body };
        },
      ]),
    ),
  });
}

function tab(fetch: ReturnType<typeof fakeFetch>["fetch"], channelName: string | null, client: SignalClient | null = null) {
  const store = new InboxStore(new InboxApi({ baseUrl: "http://127.0.0.1:9", token: "jwt", fetch }), client, {
    channelName,
    confirmDelayMs: 20,
  });
  stores.push(store);
  const changes: InboxChange[] = [];
  store.subscribe((c) => changes.push(c));
  return { store, changes };
}

afterEach(() => {
  for (const store of stores.splice(0)) store.close();
  FakeWebSocket.instances = [];
});

describe("InboxStore across tabs", () => {
  it("lowers the unread badge of another tab when a signal is marked read", async () => {
    const { fetch } = server([1, 2, 3]);
    const channel = `test-${Math.random()}`;
    const first = tab(fetch, channel);
    const second = tab(fetch, channel);
    await first.store.refreshUnreadCount();
    await second.store.refreshUnreadCount();
    expect(second.store.unreadCount).toBe(3);

    await first.store.markRead(signal(2).id);
    expect(first.store.unreadCount).toBe(2);
    await vi.waitFor(() => expect(second.store.unreadCount).toBe(2));
    expect(second.changes).toContainEqual({ type: "read", ids: [signal(2).id], readAt: "2026-01-01T00:00:09Z" });
  });

  it("clears every tab's badge on mark all read", async () => {
    const { fetch } = server([1, 2]);
    const channel = `test-${Math.random()}`;
    const first = tab(fetch, channel);
    const second = tab(fetch, channel);
    await second.store.refreshUnreadCount();
    expect(await first.store.markAllRead()).toBe(2);
    await vi.waitFor(() => expect(second.store.unreadCount).toBe(0));
    expect(second.changes.some((c) => c.type === "all_read")).toBe(true);
  });

  it("does not share anything when cross-tab sync is off", async () => {
    const { fetch } = server([1, 2]);
    const first = tab(fetch, null);
    const second = tab(fetch, null);
    await second.store.refreshUnreadCount();
    await first.store.markRead(signal(1).id);
    await new Promise((r) => setTimeout(r, 50));
    expect(second.store.unreadCount).toBe(2);
  });
});

describe("InboxStore with the live connection", () => {
  async function connected(unread: number[]) {
    const { fetch, requests } = server(unread);
    const client = new SignalClient({ baseUrl: "http://127.0.0.1:9", WebSocket: FakeWebSocket, network: null, visibility: null });
    const view = tab(fetch, `test-${Math.random()}`, client);
    client.connect("jwt");
    await vi.waitFor(() => expect(FakeWebSocket.instances).toHaveLength(1));
    FakeWebSocket.latest().accept(USER, 0);
    await vi.waitFor(() => expect(view.store.unreadCount).toBe(unread.length)); // fetched on connect
    return { ...view, client, requests, socket: FakeWebSocket.latest() };
  }

  it("takes the server's inbox frame as the count and asks lists to refetch", async () => {
    const { store, changes, socket, client } = await connected([1, 2, 3]);
    socket.serverSend({ type: "inbox", unread_count: 1 });
    expect(store.unreadCount).toBe(1);
    expect(changes.filter((c) => c.type === "stale")).toHaveLength(1);
    socket.serverSend({ type: "inbox", unread_count: 1 }); // already known: nothing to refetch
    expect(changes.filter((c) => c.type === "stale")).toHaveLength(1);
    client.disconnect();
  });

  it("counts a new live signal at once and confirms the count with the server", async () => {
    const { store, changes, socket, requests, client } = await connected([]);
    socket.serverSend(signal(1));
    expect(store.unreadCount).toBe(1); // optimistic
    expect(changes).toContainEqual({ type: "signal", signal: signal(1) });
    const countRequests = () => requests.filter((r) => r.url.pathname.endsWith("unread-count")).length;
    const before = countRequests();
    await vi.waitFor(() => expect(countRequests()).toBe(before + 1));
    // The fake server has no unread signals (nothing stored it), so the confirmation corrects the guess.
    await vi.waitFor(() => expect(store.unreadCount).toBe(0));
    client.disconnect();
  });

  it("does not count replayed signals twice after a reconnect", async () => {
    let unreadOnServer = 0;
    const { fetch } = fakeFetch({
      "GET /api/v1/inbox/signals/unread-count": () => ({ body: { unread_count: unreadOnServer } }),
    });
    const client = new SignalClient({ baseUrl: "http://127.0.0.1:9", WebSocket: FakeWebSocket, network: null, visibility: null });
    const { store, changes } = tab(fetch, `test-${Math.random()}`, client);
    client.connect("jwt");
    await vi.waitFor(() => expect(FakeWebSocket.instances).toHaveLength(1));
    FakeWebSocket.latest().accept(USER, 0);
    await vi.waitFor(() => expect(store.unreadCount).toBe(0));

    FakeWebSocket.latest().serverClose(1006);
    unreadOnServer = 2; // two signals stored while this tab was away
    await vi.waitFor(() => expect(FakeWebSocket.instances).toHaveLength(2), { timeout: 2000 });
    const socket = FakeWebSocket.latest();
    socket.accept(USER, 2);
    await new Promise((r) => setTimeout(r, 10)); // a count request made on `connected` would answer now
    socket.serverSend(signal(1));
    socket.serverSend(signal(2));
    socket.serverSend({ type: "resumed", recovered: true });
    await vi.waitFor(() => expect(store.unreadCount).toBe(2));
    await new Promise((r) => setTimeout(r, 60)); // past the confirmation too
    const counts = changes.flatMap((c) => (c.type === "unread_count" ? [c.unreadCount] : []));
    expect(Math.max(...counts)).toBe(2); // never 3 or 4 on the way
    expect(store.unreadCount).toBe(2);
    client.disconnect();
  });

  it("asks lists to refetch when a resume could not recover everything", async () => {
    const { changes, socket, client } = await connected([]);
    socket.serverSend({ type: "resumed", recovered: true });
    socket.serverSend({ type: "resumed", recovered: false });
    expect(changes.filter((c) => c.type === "stale")).toHaveLength(1);
    client.disconnect();
  });

  it("turns a server frame that says what changed into a state change and new counts, without a refetch", async () => {
    const { store, changes, socket, client } = await connected([1, 2]);
    socket.serverSend({ type: "inbox", unread_count: 1, counts: { unread: 1, unseen: 0, total: 1 },
                        change: { set: { archived: true }, workflow_id: "wf-1" } });
    expect(store.unreadCount).toBe(1);
    expect(changes).toContainEqual({ type: "state", set: { archived: true }, ids: undefined, workflowId: "wf-1", all: undefined });
    expect(changes.filter((c) => c.type === "stale")).toHaveLength(0);
    client.disconnect();
  });
});
