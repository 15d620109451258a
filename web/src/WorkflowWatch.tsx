import { useEffect, useState, type FormEvent } from "react";

import { SignalClient, type AnySignal, type TokenSource } from "@signalhub/client";

/**
 * Watch one workflow on a socket of its own that subscribes to it alone: only
 * that workflow's signals arrive (live and after a reconnect). Its `seq`s skip
 * the user's other workflows' signals: gaps are expected on such a socket.
 */
export function WorkflowWatch({ tokens }: { tokens: TokenSource }) {
  const [draft, setDraft] = useState("");
  const [watched, setWatched] = useState<string | null>(null);
  const [following, setFollowing] = useState<string[]>([]);
  const [signals, setSignals] = useState<AnySignal[]>([]);

  useEffect(() => {
    if (!watched) return;
    setSignals([]);
    setFollowing([]);
    const client = new SignalClient({ workflowIds: [watched] });
    const offs = [
      client.on("signal", (signal) => setSignals((previous) => [...previous, signal].slice(-50))),
      client.on("connected", () => setFollowing(client.workflowIds)),
    ];
    client.connect(tokens);
    return () => {
      offs.forEach((off) => off());
      client.disconnect();
    };
  }, [watched, tokens]);

  const watch = (event: FormEvent) => {
    event.preventDefault();
    setWatched(draft.trim() || null);
  };

  return (
    <section className="card watch" aria-labelledby="watch-title">
      <h2 id="watch-title">Watch one workflow</h2>
      <form onSubmit={watch} className="upload">
        <input aria-label="workflow to watch" placeholder="workflow id" value={draft} onChange={(e) => setDraft(e.target.value)} data-testid="watch-workflow" />
        <button type="submit" data-testid="watch-start">
          Watch
        </button>
      </form>
      {watched && (
        <p className="muted" data-testid="watch-following" data-following={following.join(",")}>
          A socket of its own, subscribed to <code>{watched}</code> only; seq gaps are the user's other workflows.
        </p>
      )}
      <ol className="steps" data-testid="watch-signals">
        {signals.map((s) => (
          <li key={s.seq} data-seq={s.seq} data-type={s.signal_type} data-workflow-id={s.workflow_id} data-testid="watch-signal">
            #{s.seq} {s.signal_type.replaceAll("_", " ")}
          </li>
        ))}
      </ol>
    </section>
  );
}
