// @vitest-environment happy-dom
/** The React components against an in-memory inbox server: roles, keyboard and actions. */

import { act, cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";

import { SignalClient } from "../src/client.js";
import { InboxApi } from "../src/inbox.js";
import { InboxStore } from "../src/inbox-store.js";
import { Inbox, InboxBell, SignalProvider, summarizeSignal, WorkflowProgress } from "../src/react.js";
import { FakeWebSocket, signal } from "./fakes.js";
import { FakeInboxServer, stored } from "./fake-inbox-server.js";

const USER = "11111111-1111-4111-8111-111111111111";
const stores: InboxStore[] = [];
const clients: SignalClient[] = [];

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

function services(server: FakeInboxServer) {
  const client = new SignalClient({ baseUrl: "http://127.0.0.1:9", WebSocket: FakeWebSocket, network: null, visibility: null });
  const inbox = new InboxStore(new InboxApi({ baseUrl: "http://127.0.0.1:9", token: "jwt", fetch: server.fetch }), client, {
    channelName: null,
  });
  stores.push(inbox);
  clients.push(client);
  return { client, inbox };
}

function mount(server: FakeInboxServer, ui: React.ReactNode) {
  const { client, inbox } = services(server);
  return { client, inbox, ...render(<SignalProvider client={client} inbox={inbox}>{ui}</SignalProvider>) };
}

const items = () => screen.queryAllByTestId("inbox-item");
const itemIds = () => items().map((el) => el.getAttribute("data-id"));

afterEach(() => {
  cleanup();
  for (const store of stores.splice(0)) store.close();
  for (const client of clients.splice(0)) client.disconnect();
  FakeWebSocket.instances = [];
});

describe("<InboxBell/>", () => {
  it("badges the unseen count and marks what it shows seen when opened", async () => {
    const server = new FakeInboxServer([stored(1), stored(2), stored(3, { seen: true, read: true })]);
    mount(server, <InboxBell />);
    const bell = await screen.findByRole("button", { name: "Notifications, 2 unseen" });
    expect(bell.getAttribute("aria-expanded")).toBe("false");
    expect(screen.getByTestId("bell-badge").textContent).toBe("2");

    fireEvent.click(bell);
    const dialog = screen.getByRole("dialog", { name: "Notifications" });
    await waitFor(() => expect(within(dialog).getAllByTestId("inbox-item")).toHaveLength(3));
    await waitFor(() => expect(screen.queryByTestId("bell-badge")).toBeNull());
    const seen = server.requests.filter((r) => r.url.pathname === "/api/v1/inbox/bulk");
    expect(seen).toHaveLength(1);
    expect((seen[0]!.body as { action: string; ids: string[] }).action).toBe("seen");
    expect(new Set((seen[0]!.body as { ids: string[] }).ids)).toEqual(new Set([signal(1).id, signal(2).id]));
    expect(server.counts()).toEqual({ unread: 2, unseen: 0, total: 3 }); // seen, still unread
  });

  it("closes on Escape and gives focus back to the bell", async () => {
    const server = new FakeInboxServer([stored(1)]);
    mount(server, <InboxBell />);
    const bell = await screen.findByRole("button", { name: /Notifications/ });
    fireEvent.click(bell);
    const dialog = screen.getByRole("dialog");
    fireEvent.keyDown(dialog, { key: "Escape" });
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(document.activeElement).toBe(bell);
    expect(bell.getAttribute("aria-expanded")).toBe("false");
  });

  it("follows changes made in another tab or device (the server's inbox frame)", async () => {
    const server = new FakeInboxServer([stored(1), stored(2)]);
    const { client } = mount(server, <InboxBell />);
    client.connect("jwt");
    await waitFor(() => expect(FakeWebSocket.instances).toHaveLength(1));
    const socket = FakeWebSocket.latest();
    act(() => socket.accept(USER, 2));
    await screen.findByRole("button", { name: "Notifications, 2 unseen" });
    act(() => socket.serverSend({ type: "inbox", unread_count: 2, counts: { unread: 2, unseen: 0, total: 2 },
                                  change: { set: { seen: true }, ids: [signal(1).id, signal(2).id] } }));
    await screen.findByRole("button", { name: "Notifications" });
  });
});

describe("<Inbox/>", () => {
  it("shows tabs as a tablist that arrow keys move through", async () => {
    const server = new FakeInboxServer([stored(1), stored(2, { read: true }), stored(3, { archived: true })]);
    mount(server, <Inbox />);
    await waitFor(() => expect(itemIds()).toEqual([signal(2).id, signal(1).id]));
    const all = screen.getByRole("tab", { name: "All" });
    expect(all.getAttribute("aria-selected")).toBe("true");
    expect(all.tabIndex).toBe(0);
    expect(screen.getByRole("tab", { name: "Unread" }).tabIndex).toBe(-1);

    fireEvent.keyDown(all, { key: "ArrowRight" });
    const archived = screen.getByRole("tab", { name: "Archived" });
    expect(archived.getAttribute("aria-selected")).toBe("true");
    expect(document.activeElement).toBe(archived);
    await waitFor(() => expect(itemIds()).toEqual([signal(3).id]));

    fireEvent.keyDown(archived, { key: "Home" });
    expect(screen.getByRole("tab", { name: "Unread" }).getAttribute("aria-selected")).toBe("true");
    await waitFor(() => expect(itemIds()).toEqual([signal(1).id]));
    expect(screen.getByRole("tabpanel")).toBeTruthy();
  });

  it("archives, restores and deletes one item with its buttons", async () => {
    const server = new FakeInboxServer([stored(1), stored(2)]);
    mount(server, <Inbox />);
    await waitFor(() => expect(items()).toHaveLength(2));
    fireEvent.click(within(items()[0]!).getByTestId("archive"));
    await waitFor(() => expect(itemIds()).toEqual([signal(1).id]));
    expect(server.signals.find((s) => s.seq === 2)!.archived).toBe(true);

    fireEvent.click(screen.getByRole("tab", { name: "Archived" }));
    await waitFor(() => expect(itemIds()).toEqual([signal(2).id]));
    fireEvent.click(within(items()[0]!).getByTestId("unarchive"));
    await waitFor(() => expect(items()).toHaveLength(0));

    fireEvent.click(screen.getByRole("tab", { name: "All" }));
    await waitFor(() => expect(items()).toHaveLength(2));
    fireEvent.click(within(items()[1]!).getByTestId("delete"));
    await waitFor(() => expect(itemIds()).toEqual([signal(2).id]));
    expect(server.signals.map((s) => s.seq)).toEqual([2]);
  });

  it("applies a bulk action to the selected items", async () => {
    const server = new FakeInboxServer([stored(1), stored(2), stored(3)]);
    mount(server, <Inbox />);
    await waitFor(() => expect(items()).toHaveLength(3));
    fireEvent.click(within(items()[0]!).getByRole("checkbox", { name: "Select" }));
    fireEvent.click(within(items()[2]!).getByRole("checkbox", { name: "Select" }));
    fireEvent.click(screen.getByTestId("bulk-archive"));
    await waitFor(() => expect(itemIds()).toEqual([signal(2).id]));
    const bulk = server.requests.find((r) => r.url.pathname === "/api/v1/inbox/bulk")!;
    expect(bulk.body).toEqual({ action: "archive", ids: [signal(3).id, signal(1).id] });

    fireEvent.click(screen.getByTestId("select-all"));
    fireEvent.click(screen.getByTestId("bulk-read"));
    await waitFor(() => expect(items()[0]!.getAttribute("data-read")).toBe("true"));
  });

  it("is usable from the keyboard: arrows move, r reads, e archives, Delete deletes, Space selects", async () => {
    const server = new FakeInboxServer([stored(1), stored(2), stored(3), stored(4)]);
    mount(server, <Inbox />);
    await waitFor(() => expect(items()).toHaveLength(4));
    const [first] = items();
    expect(items().map((el) => el.tabIndex)).toEqual([0, -1, -1, -1]); // one tab stop for the list
    first!.focus();
    fireEvent.keyDown(first!, { key: "ArrowDown" });
    expect(document.activeElement?.getAttribute("data-id")).toBe(signal(3).id);

    fireEvent.keyDown(document.activeElement!, { key: "r" });
    await waitFor(() => expect(items()[1]!.getAttribute("data-read")).toBe("true"));
    fireEvent.keyDown(items()[1]!, { key: "e" });
    await waitFor(() => expect(itemIds()).toEqual([signal(4).id, signal(2).id, signal(1).id]));

    fireEvent.keyDown(items()[1]!, { key: "Delete" });
    await waitFor(() => expect(itemIds()).toEqual([signal(4).id, signal(1).id]));
    expect(server.signals.map((s) => s.seq).sort()).toEqual([1, 3, 4]);

    fireEvent.keyDown(items()[0]!, { key: " " });
    expect(screen.getByTestId("select-all").closest("label")!.textContent).toContain("1 selected");
  });

  it("pages through older signals by cursor", async () => {
    const server = new FakeInboxServer(Array.from({ length: 5 }, (_, i) => stored(i + 1)));
    mount(server, <Inbox pageSize={2} />);
    await waitFor(() => expect(items()).toHaveLength(2));
    fireEvent.click(screen.getByTestId("load-more"));
    await waitFor(() => expect(items()).toHaveLength(4));
    fireEvent.click(screen.getByTestId("load-more"));
    await waitFor(() => expect(items()).toHaveLength(5));
    expect(screen.queryByTestId("load-more")).toBeNull();
    const cursors = server.requests.filter((r) => r.url.pathname === "/api/v1/inbox/signals").map((r) => r.url.searchParams.get("cursor"));
    expect(cursors).toEqual([null, "4", "2"]);
  });
});

describe("<WorkflowProgress/>", () => {
  it("shows the stored steps, the result, and archives the workflow's signals", async () => {
    const server = new FakeInboxServer([
      stored(1, {}, "wf-9"),
      { ...stored(2, {}, "wf-9"), signal_type: "completion", data: { result: { pages: 3 } } } as never,
      stored(3, {}, "other"),
    ]);
    mount(server, <WorkflowProgress workflowId="wf-9" label="Report" renderResult={(r) => `pages: ${(r as { pages: number }).pages}`} />);
    const card = await screen.findByRole("article", { name: "Report" });
    await waitFor(() => expect(within(card).getByRole("progressbar").getAttribute("aria-valuenow")).toBe("100"));
    expect(within(card).getByTestId("workflow-result").textContent).toBe("pages: 3");
    expect(within(card).getAllByTestId("workflow-signal")).toHaveLength(2);
    const list = server.requests.find((r) => r.url.pathname === "/api/v1/inbox/signals")!;
    expect(list.url.searchParams.get("archived")).toBe("any"); // archived steps are still steps

    fireEvent.click(within(card).getByRole("button", { name: "Archive its signals" }));
    await waitFor(() => expect(within(card).getByTestId("workflow-archived").textContent).toBe("2 archived"));
    expect(server.signals.filter((s) => s.archived).map((s) => s.seq)).toEqual([1, 2]);
  });
});

describe("custom signal types in the components", () => {
  it("the inbox summarises a custom signal by its data and the progress card names its type", async () => {
    const asked = { ...stored(1, {}, "wf-7"), signal_type: "approval_needed", data: { question: "Publish?" } } as never;
    expect(summarizeSignal(asked)).toBe('{"question":"Publish?"}');
    const server = new FakeInboxServer([asked, stored(2, {}, "wf-7")]);
    mount(server, <WorkflowProgress workflowId="wf-7" label="Approval" />);
    const card = await screen.findByRole("article", { name: "Approval" });
    await waitFor(() => expect(within(card).getAllByTestId("workflow-signal")).toHaveLength(2));
    const [first] = within(card).getAllByTestId("workflow-signal");
    expect(first.getAttribute("data-type")).toBe("approval_needed");
    expect(first.textContent).toBe("approval needed");
  });
});
