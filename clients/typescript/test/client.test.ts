import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { SignalClient, type SignalClientOptions, type StateChange } from "../src/client.js";
import type { AnySignal } from "../src/types.js";
import { FakeDocument, FakeWebSocket, FakeWindow, signal } from "./fakes.js";

const USER = "11111111-1111-4111-8111-111111111111";

function makeClient(options: SignalClientOptions = {}) {
  const window = new FakeWindow();
  const document = new FakeDocument();
  const client = new SignalClient({
    baseUrl: "http://127.0.0.1:9",
    WebSocket: FakeWebSocket,
    network: window,
    visibility: document,
    backoff: { random: () => 0.5 },
    ...options,
  });
  const received: AnySignal[] = [];
  const states: StateChange[] = [];
  client.on("signal", (s) => received.push(s));
  client.on("state", (s) => states.push(s));
  return { client, window, document, received, states };
}

/** Let the token promise inside `open()` settle. */
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

describe("connecting", () => {
  it("sends the token as a subprotocol and keeps it out of the URL", async () => {
    const { client } = makeClient();
    client.connect("jwt-abc");
    await flush();
    const socket = FakeWebSocket.latest();
    expect(socket.url).toBe("ws://127.0.0.1:9/ws");
    expect(socket.protocols).toEqual(["bearer", "jwt-abc"]);
    expect(client.state).toBe("connecting");
    socket.accept(USER, 0);
    expect(client.state).toBe("connected");
    expect(client.userId).toBe(USER);
  });

  it("can send the token in the query string when asked to", async () => {
    const { client } = makeClient({ tokenTransport: "query" });
    client.connect("jwt-abc");
    await flush();
    expect(FakeWebSocket.latest().query.get("token")).toBe("jwt-abc");
    expect(FakeWebSocket.latest().protocols).toBeUndefined();
  });

  it("starts live from the server's latest seq on a fresh start", async () => {
    const { client, received } = makeClient();
    client.connect("t");
    await flush();
    FakeWebSocket.latest().accept(USER, 41);
    expect(client.lastSeq).toBe(41);
    FakeWebSocket.latest().serverSend(signal(42));
    expect(received.map((s) => s.seq)).toEqual([42]);
  });

  it("starts from a saved seq when given one", async () => {
    const { client } = makeClient({ since: 17 });
    client.connect("t");
    await flush();
    expect(FakeWebSocket.latest().query.get("since")).toBe("17");
  });
});

describe("handlers", () => {
  it("route each signal to the handlers of its type", async () => {
    const { client } = makeClient();
    const progress: number[] = [];
    const completions: string[] = [];
    const errors: string[] = [];
    client.on("progress", (s) => progress.push(s.data.progress));
    client.on("completion", (s) => completions.push(s.workflow_id));
    client.on("error", (s) => errors.push(s.data.error));
    client.connect("t");
    await flush();
    const socket = FakeWebSocket.latest();
    socket.accept(USER, 0);
    socket.serverSend(signal(1, "status_update"));
    socket.serverSend(signal(2, "progress", "wf-1", { progress: 0.5, step: "parse" }));
    socket.serverSend(signal(3, "completion", "wf-1"));
    socket.serverSend(signal(4, "error", "wf-2", { error: "disk full" }));
    expect(progress).toEqual([0.5]);
    expect(completions).toEqual(["wf-1"]);
    expect(errors).toEqual(["disk full"]);
  });

  it("stop receiving after unsubscribing, and one throwing handler does not starve the others", async () => {
    const { client } = makeClient();
    const seen: number[] = [];
    const off = client.on("progress", (s) => seen.push(s.seq));
    client.on("progress", () => {
      throw new Error("handler bug");
    });
    const alsoSeen: number[] = [];
    client.on("progress", (s) => alsoSeen.push(s.seq));
    client.connect("t");
    await flush();
    const socket = FakeWebSocket.latest();
    socket.accept(USER, 0);
    socket.serverSend(signal(1));
    off();
    socket.serverSend(signal(2));
    expect(seen).toEqual([1]);
    expect(alsoSeen).toEqual([1, 2]);
    expect(() => vi.runOnlyPendingTimers()).toThrow("handler bug"); // reported, not swallowed
  });

  it("ignore malformed frames and unknown control messages", async () => {
    const { client, received } = makeClient();
    client.connect("t");
    await flush();
    const socket = FakeWebSocket.latest();
    socket.accept(USER, 0);
    socket.onmessage?.({ data: "not json" });
    socket.serverSend({ type: "something-new" });
    socket.serverSend({ seq: 1, signal_type: "progress" }); // no id, no data
    socket.serverSend(signal(2));
    expect(received.map((s) => s.seq)).toEqual([2]);
  });
});

describe("dedupe", () => {
  it("delivers a signal repeated on the same connection once", async () => {
    const { client, received } = makeClient();
    client.connect("t");
    await flush();
    const socket = FakeWebSocket.latest();
    socket.accept(USER, 0);
    for (const seq of [1, 2, 2, 1, 3, 3]) socket.serverSend(signal(seq));
    expect(received.map((s) => s.seq)).toEqual([1, 2, 3]);
  });

  it("drops replayed signals the client already has after a reconnect", async () => {
    const { client, received } = makeClient();
    client.connect("t");
    await flush();
    FakeWebSocket.latest().accept(USER, 0);
    FakeWebSocket.latest().serverSend(signal(1));
    FakeWebSocket.latest().serverSend(signal(2));
    FakeWebSocket.latest().serverClose(1006);
    await vi.advanceTimersByTimeAsync(500);
    const second = FakeWebSocket.latest();
    second.accept(USER, 4);
    for (const seq of [1, 2, 3, 4]) second.serverSend(signal(seq)); // an overlapping replay
    expect(received.map((s) => s.seq)).toEqual([1, 2, 3, 4]);
  });
});

describe("resume", () => {
  it("reconnects with since=<last seq> and receives what was missed", async () => {
    const { client, received } = makeClient();
    const resumed: boolean[] = [];
    client.on("resumed", (m) => resumed.push(m.recovered));
    client.connect("t");
    await flush();
    const first = FakeWebSocket.latest();
    first.accept(USER, 5);
    first.serverSend(signal(6));
    first.serverSend(signal(7));
    first.serverClose(1001, "server restarting");
    expect(client.state).toBe("reconnecting");
    await vi.advanceTimersByTimeAsync(500);
    const second = FakeWebSocket.latest();
    expect(second).not.toBe(first);
    expect(second.query.get("since")).toBe("7");
    second.accept(USER, 9);
    second.serverSend(signal(8));
    second.serverSend(signal(9));
    second.serverSend({ type: "resumed", recovered: true });
    expect(received.map((s) => s.seq)).toEqual([6, 7, 8, 9]);
    expect(resumed).toEqual([true]);
    expect(client.lastSeq).toBe(9);
  });

  it("marks the replay between connected and resumed, on reconnects only", async () => {
    const { client } = makeClient();
    client.connect("t");
    await flush();
    FakeWebSocket.latest().accept(USER, 5);
    expect(client.resuming).toBe(false); // a fresh start replays nothing
    FakeWebSocket.latest().serverClose(1001);
    await vi.advanceTimersByTimeAsync(500);
    FakeWebSocket.latest().accept(USER, 7);
    expect(client.resuming).toBe(true);
    FakeWebSocket.latest().serverSend(signal(6));
    FakeWebSocket.latest().serverSend({ type: "resumed", recovered: true });
    expect(client.resuming).toBe(false);
  });

  it("reconnects and resumes after the server cut it off as too slow (4408)", async () => {
    const { client } = makeClient();
    client.connect("t");
    await flush();
    FakeWebSocket.latest().accept(USER, 0);
    FakeWebSocket.latest().serverSend(signal(3));
    FakeWebSocket.latest().serverClose(4408, "too slow");
    await vi.advanceTimersByTimeAsync(500);
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(FakeWebSocket.latest().query.get("since")).toBe("3");
  });

  it("takes the server's position when the server's history is behind its own", async () => {
    const { client, received } = makeClient();
    const resumed: boolean[] = [];
    client.on("resumed", (m) => resumed.push(m.recovered));
    client.connect("t");
    await flush();
    FakeWebSocket.latest().accept(USER, 0);
    FakeWebSocket.latest().serverSend(signal(500));
    FakeWebSocket.latest().serverClose(1001);
    await vi.advanceTimersByTimeAsync(500);
    const restored = FakeWebSocket.latest();
    expect(restored.query.get("since")).toBe("500");
    restored.accept(USER, 2); // the database was restored to an older state
    restored.serverSend({ type: "resumed", recovered: false });
    restored.serverSend(signal(3));
    expect(received.map((s) => s.seq)).toEqual([500, 3]);
    expect(resumed).toEqual([false]);
    expect(client.lastSeq).toBe(3);
  });

  it("starts over from the new user's position when another user signs in", async () => {
    const { client, received } = makeClient();
    client.connect("token-of-a");
    await flush();
    FakeWebSocket.latest().accept(USER, 0);
    FakeWebSocket.latest().serverSend(signal(50));
    client.connect("token-of-b");
    await flush();
    const other = "22222222-2222-4222-8222-222222222222";
    FakeWebSocket.latest().accept(other, 3);
    FakeWebSocket.latest().serverSend(signal(4));
    expect(client.lastSeq).toBe(4);
    expect(received.map((s) => s.seq)).toEqual([50, 4]);
  });
});

describe("backoff", () => {
  it("waits a fully jittered, exponentially growing delay before each attempt, capped at 30 s, forever", async () => {
    const randoms = [0.5, 0.25, 1 - 1e-9, 0, 0.75];
    let i = 0;
    const { client, states } = makeClient({ backoff: { baseMs: 500, capMs: 30_000, random: () => randoms[i++ % randoms.length]! } });
    client.connect("t");
    await flush();
    const expected: number[] = [];
    for (let attempt = 0; attempt < 40; attempt++) {
      const before = FakeWebSocket.instances.length;
      FakeWebSocket.latest().serverClose(1006);
      const ceiling = Math.min(30_000, 500 * 2 ** attempt);
      const delay = Math.floor(randoms[attempt % randoms.length]! * ceiling);
      expected.push(delay);
      if (delay > 0) {
        await vi.advanceTimersByTimeAsync(delay - 1);
        expect(FakeWebSocket.instances.length).toBe(before); // not yet
      }
      await vi.advanceTimersByTimeAsync(1);
      expect(FakeWebSocket.instances.length).toBe(before + 1);
    }
    const delays = states.filter((s) => s.retryInMs !== undefined).map((s) => s.retryInMs);
    expect(delays).toEqual(expected);
    expect(Math.max(...expected)).toBeLessThan(30_000);
    expect(expected.slice(0, 3)).toEqual([250, 250, 1999]);
    expect(client.state).toBe("reconnecting");
  });

  it("starts again from the smallest delay once a connection succeeds", async () => {
    const { client, states } = makeClient({ backoff: { random: () => 1 - 1e-9 } });
    client.connect("t");
    await flush();
    for (let n = 0; n < 5; n++) {
      FakeWebSocket.latest().serverClose(1006);
      await vi.advanceTimersByTimeAsync(30_000);
    }
    FakeWebSocket.latest().accept(USER, 0);
    FakeWebSocket.latest().serverClose(1001);
    expect(states.at(-1)!.retryInMs).toBe(499);
  });

  it("gives up an attempt that never says connected and tries again", async () => {
    const { client } = makeClient({ connectTimeoutMs: 10_000, backoff: { random: () => 0 } });
    client.connect("t");
    await flush();
    const hung = FakeWebSocket.latest();
    await vi.advanceTimersByTimeAsync(10_000);
    await vi.advanceTimersByTimeAsync(1); // the (zero) back-off delay
    expect(hung.closedByClient).not.toBeNull();
    expect(FakeWebSocket.instances.length).toBe(2);
    expect(client.state).toBe("reconnecting");
  });

  it("stops for good after disconnect()", async () => {
    const { client } = makeClient();
    client.connect("t");
    await flush();
    FakeWebSocket.latest().accept(USER, 0);
    client.disconnect();
    expect(FakeWebSocket.latest().closedByClient?.code).toBe(1000);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(client.state).toBe("closed");
  });
});

describe("token refresh", () => {
  it("asks the provider for a fresh token on 4401 and reconnects with it at once", async () => {
    const reasons: string[] = [];
    let n = 0;
    const { client } = makeClient();
    client.connect(async ({ reason }) => {
      reasons.push(reason);
      return `token-${++n}`;
    });
    await flush();
    expect(FakeWebSocket.latest().protocols).toEqual(["bearer", "token-1"]);
    FakeWebSocket.latest().accept(USER, 0);
    FakeWebSocket.latest().serverSend(signal(1));
    FakeWebSocket.latest().serverClose(4401, "token expired");
    await flush();
    expect(reasons).toEqual(["initial", "expired"]);
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(FakeWebSocket.latest().protocols).toEqual(["bearer", "token-2"]);
    expect(FakeWebSocket.latest().query.get("since")).toBe("1");
    FakeWebSocket.latest().accept(USER, 1);
    expect(client.state).toBe("connected");
  });

  it("slows down when the provider keeps handing out refused tokens", async () => {
    const { client } = makeClient({ backoff: { random: () => 1 - 1e-9 } });
    client.connect(async () => "always-refused");
    await flush();
    FakeWebSocket.latest().serverClose(4401);
    await flush();
    expect(FakeWebSocket.instances).toHaveLength(2); // first retry: immediate
    FakeWebSocket.latest().serverClose(4401);
    await flush();
    expect(FakeWebSocket.instances).toHaveLength(2); // second: after the back-off
    await vi.advanceTimersByTimeAsync(500);
    expect(FakeWebSocket.instances).toHaveLength(3);
  });

  it("reports unauthorized and stops when the token is a fixed string", async () => {
    const { client } = makeClient();
    client.connect("fixed");
    await flush();
    FakeWebSocket.latest().serverClose(4401, "token expired");
    await vi.advanceTimersByTimeAsync(120_000);
    expect(client.state).toBe("unauthorized");
    expect(FakeWebSocket.instances).toHaveLength(1);
  });

  it("reports unauthorized when the provider cannot sign in", async () => {
    const { client } = makeClient();
    let calls = 0;
    client.connect(async () => {
      if (calls++ > 0) throw new Error("signed out");
      return "first";
    });
    await flush();
    FakeWebSocket.latest().serverClose(4401);
    await flush();
    expect(client.state).toBe("unauthorized");
  });
});

describe("heartbeat", () => {
  it("pings a quiet link and replaces it within 30 s when nothing answers", async () => {
    const { client } = makeClient({ backoff: { random: () => 0 } });
    client.connect("t");
    await flush();
    const socket = FakeWebSocket.latest();
    socket.accept(USER, 0);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(socket.sentMessages).toEqual([{ type: "ping" }]);
    expect(FakeWebSocket.instances).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(socket.closedByClient).not.toBeNull();
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(FakeWebSocket.latest().query.get("since")).toBe("0");
  });

  it("keeps a link that answers its pings", async () => {
    const { client } = makeClient();
    client.connect("t");
    await flush();
    const socket = FakeWebSocket.latest();
    socket.accept(USER, 0);
    let answered = 0;
    for (let second = 0; second < 120; second++) {
      await vi.advanceTimersByTimeAsync(1000);
      for (; answered < socket.sent.length; answered++) socket.serverSend({ type: "pong" });
    }
    expect(answered).toBeGreaterThanOrEqual(6); // it did ping, about every 15 s
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(client.state).toBe("connected");
  });
});

describe("browser environment", () => {
  it("makes no attempts while offline and reconnects at once when back online", async () => {
    const { client, window } = makeClient();
    client.connect("t");
    await flush();
    FakeWebSocket.latest().accept(USER, 0);
    FakeWebSocket.latest().serverSend(signal(2));
    window.goOffline();
    expect(client.state).toBe("offline");
    expect(FakeWebSocket.latest().closedByClient).not.toBeNull();
    await vi.advanceTimersByTimeAsync(300_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
    window.goOnline();
    await flush();
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(FakeWebSocket.latest().query.get("since")).toBe("2");
  });

  it("starts offline when the browser has no network", async () => {
    const { client, window } = makeClient();
    window.navigator.onLine = false;
    client.connect("t");
    await flush();
    expect(client.state).toBe("offline");
    expect(FakeWebSocket.instances).toHaveLength(0);
  });

  it("retries at once when the tab becomes visible instead of waiting out the back-off", async () => {
    const { client, document } = makeClient({ backoff: { random: () => 1 - 1e-9, baseMs: 20_000 } });
    client.connect("t");
    await flush();
    FakeWebSocket.latest().serverClose(1006);
    await vi.advanceTimersByTimeAsync(1000);
    expect(FakeWebSocket.instances).toHaveLength(1);
    document.setVisible(false);
    document.setVisible(true);
    await flush();
    expect(FakeWebSocket.instances).toHaveLength(2);
  });

  it("checks the link with a ping when the tab becomes visible", async () => {
    const { client, document } = makeClient();
    client.connect("t");
    await flush();
    FakeWebSocket.latest().accept(USER, 0);
    document.setVisible(true);
    expect(FakeWebSocket.latest().sentMessages).toEqual([{ type: "ping" }]);
  });
});

describe("recent signals", () => {
  it("keeps the newest ones per workflow for components that mount late", async () => {
    const { client } = makeClient({ recentLimit: 3 });
    client.connect("t");
    await flush();
    const socket = FakeWebSocket.latest();
    socket.accept(USER, 0);
    socket.serverSend(signal(1, "progress", "a"));
    socket.serverSend(signal(2, "progress", "b"));
    socket.serverSend(signal(3, "progress", "a"));
    socket.serverSend(signal(4, "progress", "a"));
    expect(client.recent().map((s) => s.seq)).toEqual([2, 3, 4]);
    expect(client.recent("a").map((s) => s.seq)).toEqual([3, 4]);
  });
});
