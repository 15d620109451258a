/**
 * `InboxStore`: the unread count and read state of one user, kept in sync
 * across the tabs of a browser and with the server.
 *
 * Sources of truth, in the order they usually arrive:
 * 1. this tab's own actions (`markRead`, `markAllRead`);
 * 2. the other tabs of this origin, over a `BroadcastChannel` (instant, no server round trip);
 * 3. the server's `{"type":"inbox","unread_count":N}` frame, sent to every
 *    connection of the user when read state changes anywhere (other devices too);
 * 4. `GET unread-count`, fetched on connect, after a resume's replay, and
 *    shortly after live signals arrive, so an optimistic `+1` per new signal
 *    is always confirmed.
 *
 * Seen / archived / deleted state (`update`, `remove`, `bulk`) travels through
 * the server: its `inbox` frame carries the new counts and what changed, and
 * reaches every tab and device of the user, this one included. `counts`
 * (unread, unseen, total) is fetched only once something asked for it
 * (`refreshCounts`, e.g. a bell), then kept current the same way as the unread count.
 */

import type { SignalClient, Unsubscribe } from "./client.js";
import type { InboxApi } from "./inbox.js";
import type {
  AnySignal,
  BulkAction,
  InboxCounts,
  InboxMessage,
  InboxPatch,
  InboxSignal,
  InboxStateSet,
  InboxTarget,
} from "./types.js";

/** What listeners of `InboxStore.subscribe` are told. */
export type InboxChange =
  | { type: "unread_count"; unreadCount: number }
  /** These signals are now read (here or in another tab). */
  | { type: "read"; ids: string[]; readAt: string | null }
  | { type: "all_read"; readAt: string }
  /** A new live signal (unread). */
  | { type: "signal"; signal: AnySignal }
  /** Read state changed somewhere this store cannot see in detail: refetch lists. */
  | { type: "stale" }
  /** Unread, unseen and total changed. */
  | { type: "counts"; counts: InboxCounts }
  /** These signals (by ids, by workflow or all of them) are now in state `set`. */
  | { type: "state"; set: InboxStateSet; ids?: string[]; workflowId?: string; all?: boolean };

/** The state each bulk action leaves its signals in. */
const BULK_RESULT: Record<BulkAction, InboxStateSet> = {
  read: { read: true, seen: true },
  unread: { read: false },
  seen: { seen: true },
  archive: { archived: true },
  unarchive: { archived: false },
  delete: { deleted: true },
};

/** The message tabs exchange over the channel. */
export type InboxSyncMessage =
  | { type: "read"; user: string | null; ids: string[]; read_at: string | null; unread_count: number }
  | { type: "all_read"; user: string | null; read_at: string };

export interface BroadcastChannelLike {
  onmessage: ((event: { data: unknown }) => void) | null;
  postMessage(message: unknown): void;
  close(): void;
}

export interface InboxStoreOptions {
  /** The channel shared by this origin's tabs (default `signalhub-inbox`); `null` turns cross-tab sync off. */
  channelName?: string | null;
  /** Default: the global `BroadcastChannel` when there is one. */
  BroadcastChannel?: new (name: string) => BroadcastChannelLike;
  /** Confirm the optimistic count with the server this long after the last live signal (default 1000 ms). */
  confirmDelayMs?: number;
}

export class InboxStore {
  readonly api: InboxApi;
  private readonly client: SignalClient | null;
  private readonly channel: BroadcastChannelLike | null;
  private readonly confirmDelayMs: number;
  private readonly listeners = new Set<(change: InboxChange) => void>();
  private readonly unsubscribes: Unsubscribe[] = [];
  private count: number | null = null;
  private countRequest = 0;
  private allCounts: InboxCounts | null = null;
  private countsWanted = false;
  private countsRequest = 0;
  private confirmTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(api: InboxApi, client: SignalClient | null = null, options: InboxStoreOptions = {}) {
    this.api = api;
    this.client = client;
    this.confirmDelayMs = options.confirmDelayMs ?? 1000;
    const name = options.channelName === undefined ? "signalhub-inbox" : options.channelName;
    const Channel =
      options.BroadcastChannel ??
      (globalThis as { BroadcastChannel?: new (name: string) => BroadcastChannelLike }).BroadcastChannel;
    this.channel = name !== null && Channel ? new Channel(name) : null;
    if (this.channel) this.channel.onmessage = (event) => this.onTabMessage(event.data);
    if (client) {
      this.unsubscribes.push(
        client.on("signal", (signal) => this.onLiveSignal(signal)),
        client.on("inbox", (message) => this.onServerMessage(message)),
        client.on("connected", () => {
          // On a resume, count once the replay is over (`resumed`), so replayed signals are not counted twice.
          if (!client.resuming) this.refreshAll();
        }),
        client.on("resumed", (message) => {
          this.refreshAll();
          if (!message.recovered) this.emit({ type: "stale" });
        }),
      );
    }
  }

  /** The last known unread count (`null` until first fetched). */
  get unreadCount(): number | null {
    return this.count;
  }

  /** The last known counts (`null` until `refreshCounts` was called once). */
  get counts(): InboxCounts | null {
    return this.allCounts;
  }

  /** Fetch unread/unseen/total; from then on they are kept current. */
  async refreshCounts(): Promise<InboxCounts> {
    this.countsWanted = true;
    const request = ++this.countsRequest;
    const counts = await this.api.counts();
    if (request === this.countsRequest) this.setCounts(counts);
    return counts;
  }

  /** Set read / seen / archived of one signal; every tab hears of it. */
  async update(id: string, patch: InboxPatch): Promise<InboxSignal> {
    const signal = await this.api.update(id, patch);
    const set: InboxStateSet = { ...patch };
    if (patch.read === true && patch.seen === undefined) set.seen = true;
    this.afterChange({ type: "state", set, ids: [id] });
    return signal;
  }

  /** Delete one signal for this user; every tab hears of it. */
  async remove(id: string): Promise<void> {
    await this.api.remove(id);
    this.afterChange({ type: "state", set: { deleted: true }, ids: [id] });
  }

  /** One action on many signals; resolves to how many changed. */
  async bulk(action: BulkAction, target: InboxTarget): Promise<number> {
    const updated = await this.api.bulk(action, target);
    if (updated > 0) {
      this.afterChange({
        type: "state",
        set: BULK_RESULT[action],
        ids: "ids" in target ? target.ids : undefined,
        workflowId: "workflow_id" in target ? target.workflow_id : undefined,
        all: "all" in target ? true : undefined,
      });
    }
    return updated;
  }

  /** Mark these signals seen (what a bell does with the items it shows). */
  markSeen(ids: string[]): Promise<number> {
    return ids.length ? this.bulk("seen", { ids }) : Promise.resolve(0);
  }

  /** Listen for changes; returns the function that unsubscribes. */
  subscribe(listener: (change: InboxChange) => void): Unsubscribe {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Fetch the count from the server; a slower, older request never overwrites a newer answer. */
  async refreshUnreadCount(): Promise<number> {
    const request = ++this.countRequest;
    const count = await this.api.unreadCount();
    if (request === this.countRequest) this.setCount(count);
    return count;
  }

  /** Mark one signal read, here and in every other tab. */
  async markRead(id: string): Promise<InboxSignal> {
    const signal = await this.api.markRead(id);
    this.emit({ type: "read", ids: [id], readAt: signal.read_at });
    const count = await this.refreshUnreadCount();
    this.post({ type: "read", user: this.user(), ids: [id], read_at: signal.read_at, unread_count: count });
    return signal;
  }

  /** Mark everything read, here and in every other tab; resolves to how many changed. */
  async markAllRead(): Promise<number> {
    const updated = await this.api.markAllRead();
    const readAt = new Date().toISOString();
    this.countRequest += 1; // any count request still in flight predates this
    this.setCount(0);
    this.emit({ type: "all_read", readAt });
    this.post({ type: "all_read", user: this.user(), read_at: readAt });
    return updated;
  }

  /** Stop listening (the channel, the client, the timers). */
  close(): void {
    for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
    if (this.confirmTimer !== null) clearTimeout(this.confirmTimer);
    this.confirmTimer = null;
    if (this.channel) {
      this.channel.onmessage = null;
      this.channel.close();
    }
    this.listeners.clear();
  }

  // -- inputs ---------------------------------------------------------------------

  private onLiveSignal(signal: AnySignal): void {
    // A replayed signal may already be in the count fetched on reconnect; the confirmation settles it.
    if (this.count !== null && !this.client?.resuming) this.setCount(this.count + 1);
    if (this.allCounts !== null && !this.client?.resuming) {
      const c = this.allCounts;
      this.setCounts({ unread: c.unread + 1, unseen: c.unseen + 1, total: c.total + 1 });
    }
    this.emit({ type: "signal", signal });
    if (this.confirmTimer !== null) clearTimeout(this.confirmTimer);
    this.confirmTimer = setTimeout(() => {
      this.confirmTimer = null;
      this.refreshAll();
    }, this.confirmDelayMs);
  }

  private onServerMessage(message: InboxMessage): void {
    if (message.counts && this.countsWanted) {
      this.countsRequest += 1;
      this.setCounts(message.counts);
    }
    const change = message.change;
    if (change && typeof change.set === "object" && change.set !== null) {
      this.countRequest += 1;
      this.setCount(message.unread_count);
      this.emit({ type: "state", set: change.set, ids: change.ids, workflowId: change.workflow_id, all: change.all });
      return;
    }
    if (message.unread_count === this.count) return; // already known: our own action or another tab's message
    this.countRequest += 1;
    this.setCount(message.unread_count);
    this.emit({ type: "stale" });
  }

  private afterChange(change: InboxChange): void {
    this.emit(change);
    // The server's frame brings the counts too; without a live connection, ask.
    void this.refreshUnreadCount().catch(() => undefined);
    if (this.countsWanted) void this.refreshCounts().catch(() => undefined);
  }

  private refreshAll(): void {
    void this.refreshUnreadCount().catch(() => undefined);
    if (this.countsWanted) void this.refreshCounts().catch(() => undefined);
  }

  private onTabMessage(data: unknown): void {
    const message = data as InboxSyncMessage | null;
    if (!message || typeof message !== "object") return;
    const me = this.user();
    if (message.user && me && message.user !== me) return; // another account in another tab
    if (message.type === "read" && Array.isArray(message.ids)) {
      this.countRequest += 1;
      this.setCount(message.unread_count);
      this.emit({ type: "read", ids: message.ids, readAt: message.read_at });
    } else if (message.type === "all_read") {
      this.countRequest += 1;
      this.setCount(0);
      this.emit({ type: "all_read", readAt: message.read_at });
    }
  }

  // -- helpers ----------------------------------------------------------------------

  private user(): string | null {
    return this.client?.userId ?? null;
  }

  private post(message: InboxSyncMessage): void {
    try {
      this.channel?.postMessage(message);
    } catch {
      /* the channel is closed */
    }
  }

  private setCount(count: number): void {
    const next = Math.max(0, count);
    if (next === this.count) return;
    this.count = next;
    this.emit({ type: "unread_count", unreadCount: next });
  }

  private setCounts(counts: InboxCounts): void {
    const c = this.allCounts;
    if (c && c.unread === counts.unread && c.unseen === counts.unseen && c.total === counts.total) return;
    this.allCounts = { unread: counts.unread, unseen: counts.unseen, total: counts.total };
    this.emit({ type: "counts", counts: this.allCounts });
  }

  private emit(change: InboxChange): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(change);
      } catch (error) {
        setTimeout(() => {
          throw error;
        });
      }
    }
  }
}
