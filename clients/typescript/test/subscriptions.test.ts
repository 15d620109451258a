import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { SignalClient, type SignalClientOptions } from "../src/client.js";
import { isSeedSignal, isSignalOfType, parseServerMessage, type AnySignal, type CustomSignal } from "../src/types.js";
import { summarizeWorkflow } from "../src/workflow.js";
import { FakeWebSocket, signal } from "./fakes.js";

const USER = "11111111-1111-4111-8111-111111111111";

interface ApprovalData {
  question: string;
  options: string[];
}

function approval(seq: number, workflow_id = "doc-7"): CustomSignal<"approval_needed", ApprovalData> {
  return {
    id: `00000000-0000-4000-8000-${String(seq).padStart(12, "0")}`,
    seq,
    signal_type: "approval_needed",
    workflow_id,
    data: { question: "Publish?", options: ["approve", "reject"] },
    timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString(),
  };
}

function makeClient(options: SignalClientOptions = {}) {
  const client = new SignalClient({
    baseUrl: "http://127.0.0.1:9",
    WebSocket: FakeWebSocket,
    network: null,
    visibility: null,
    backoff: { random: () => 0.5 },
    ...options,
  });
  const received: AnySignal[] = [];
  client.on("signal", (s) => received.push(s));
  return { client, received };
}

async function flush(): Promise<void> {
  await vi.advanceTimersByTimeAsync(0);
}

beforeEach(() => {
  vi.useFakeTimers();
  FakeWebSocket.instances = [];
});

afterEach(() => {
  vi.useRealTimers();
});

describe("custom signal types", () => {
  it("parses any type matching the server's pattern and refuses others", () => {
    expect(parseServerMessage(JSON.stringify(approval(1)))).toEqual(approval(1));
    for (const bad of ["Approval", "9lives", "a".repeat(65), "with space", "ünï", ""]) {
      expect(parseServerMessage(JSON.stringify({ ...approval(1), signal_type: bad }))).toBeNull();
    }
  });

  it("hands custom signals to onType handlers with the stated data type, and to no seed handler", async () => {
    const { client, received } = makeClient();
    const questions: string[] = [];
    const progress: number[] = [];
    client.onType<ApprovalData>("approval_needed", (s) => questions.push(s.data.question));
    client.onType<ApprovalData>("something_else", () => questions.push("wrong type"));
    client.on("progress", (s) => progress.push(s.data.progress));
    client.connect("t");
    await flush();
    const socket = FakeWebSocket.latest();
    socket.accept(USER, 0);
    socket.serverSend(approval(1));
    socket.serverSend(signal(2, "progress"));
    expect(questions).toEqual(["Publish?"]);
    expect(progress).toEqual([0.2]);
    expect(received.map((s) => s.signal_type)).toEqual(["approval_needed", "progress"]);
  });

  it("narrows seed signals by signal_type and custom ones by isSignalOfType", () => {
    const signals: AnySignal[] = [approval(1), signal(2, "error")];
    const described = signals.map((s) => {
      if (isSeedSignal(s)) return s.signal_type === "error" ? `error ${s.data.error}` : s.signal_type;
      if (isSignalOfType<"approval_needed", ApprovalData>(s, "approval_needed")) return `asks ${s.data.options.join("/")}`;
      return "other";
    });
    expect(described).toEqual(["asks approve/reject", "error boom"]);
  });

  it("keeps custom signals in a workflow's list without moving its phase", () => {
    const state = summarizeWorkflow("doc-7", [signal(1, "status_update", "doc-7"), approval(2)]);
    expect(state.phase).toBe("running");
    expect(state.signals.map((s) => s.seq)).toEqual([1, 2]);
  });
});

describe("workflow subscriptions", () => {
  it("sends the workflow set on every connect, with the resume position", async () => {
    const { client } = makeClient({ workflowIds: ["doc-a", "doc b/ü"] });
    client.connect("t");
    await flush();
    const first = FakeWebSocket.latest();
    expect(first.query.getAll("workflow_id")).toEqual(["doc-a", "doc b/ü"]);
    first.accept(USER, 4);
    first.serverSend(signal(9, "progress", "doc-a"));
    first.serverClose(1001, "restart");
    await vi.advanceTimersByTimeAsync(60_000);
    const second = FakeWebSocket.latest();
    expect(second).not.toBe(first);
    expect(second.query.get("since")).toBe("9");
    expect(second.query.getAll("workflow_id")).toEqual(["doc-a", "doc b/ü"]);
  });

  it("subscribes and unsubscribes on the open socket, and reports the server's set", async () => {
    const { client } = makeClient();
    const answers: string[][] = [];
    client.on("subscribed", (m) => answers.push(m.workflow_ids));
    client.connect("t");
    await flush();
    const socket = FakeWebSocket.latest();
    socket.accept(USER, 0);
    client.subscribe(["doc-a", "doc-b"]);
    client.subscribe(["doc-a"]); // already followed: nothing to send
    client.unsubscribe(["doc-a", "never"]);
    expect(socket.sentMessages).toEqual([
      { type: "subscribe", workflow_ids: ["doc-a", "doc-b"] },
      { type: "unsubscribe", workflow_ids: ["doc-a"] },
    ]);
    socket.serverSend({ type: "subscribed", workflow_ids: ["doc-b"] });
    expect(answers).toEqual([["doc-b"]]);
    expect(client.workflowIds).toEqual(["doc-b"]);
  });

  it("sends a change made while the socket was opening once it is connected", async () => {
    const { client } = makeClient({ workflowIds: ["doc-a"] });
    client.connect("t");
    await flush();
    const socket = FakeWebSocket.latest();
    client.subscribe(["doc-b"]);
    client.unsubscribe(["doc-a"]);
    expect(socket.sent).toEqual([]);
    socket.accept(USER, 0);
    expect(socket.sentMessages).toEqual([
      { type: "subscribe", workflow_ids: ["doc-b"] },
      { type: "unsubscribe", workflow_ids: ["doc-a"] },
    ]);
  });

  it("treats the gaps of a filtered socket as normal: every signal is delivered and nothing is refetched", async () => {
    const fetch = vi.fn();
    vi.stubGlobal("fetch", fetch);
    try {
      const { client, received } = makeClient({ workflowIds: ["doc-a"] });
      const resumed: boolean[] = [];
      client.on("resumed", (m) => resumed.push(m.recovered));
      client.connect("t");
      await flush();
      const socket = FakeWebSocket.latest();
      socket.accept(USER, 2);
      for (const seq of [3, 9, 15, 40]) socket.serverSend(signal(seq, "progress", "doc-a"));
      socket.serverSend(signal(12, "progress", "doc-a")); // older than the last: a duplicate, dropped
      expect(received.map((s) => s.seq)).toEqual([3, 9, 15, 40]);
      expect(client.lastSeq).toBe(40);
      expect(fetch).not.toHaveBeenCalled();
      expect(resumed).toEqual([]);
      expect(socket.sent).toEqual([]); // no resume request either
    } finally {
      vi.unstubAllGlobals();
    }
  });
});
