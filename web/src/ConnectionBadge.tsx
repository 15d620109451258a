import { useEffect, useState } from "react";

import { useConnectionState, useSignalClient } from "@signalhub/client/react";
import type { ConnectionState } from "@signalhub/client";

const LABELS: Record<ConnectionState, string> = {
  idle: "Not connected",
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
  unauthorized: "Token refused",
  closed: "Disconnected",
};

/** Always visible: where the live connection is, and when it will try again. */
export function ConnectionBadge({ onSignOut }: { onSignOut: () => void }) {
  const client = useSignalClient();
  const status = useConnectionState();
  const [now, setNow] = useState(() => Date.now());
  const [retryAt, setRetryAt] = useState<number | null>(null);

  useEffect(() => {
    setRetryAt(status.state === "reconnecting" && status.retryInMs !== undefined ? Date.now() + status.retryInMs : null);
  }, [status]);
  useEffect(() => {
    if (retryAt === null) return;
    const timer = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(timer);
  }, [retryAt]);

  const seconds = retryAt !== null ? Math.max(0, Math.ceil((retryAt - now) / 1000)) : null;
  return (
    <span className={`connection connection-${status.state}`} data-testid="connection-state" data-state={status.state} role="status">
      <span className="dot" aria-hidden="true" />
      {LABELS[status.state]}
      {status.state === "reconnecting" && seconds !== null && seconds > 0 && (
        <>
          {" "}
          <span className="muted">retry in {seconds} s</span>
          <button type="button" className="link" onClick={() => client.reconnectNow()}>
            retry now
          </button>
        </>
      )}
      {status.state === "unauthorized" && (
        <button type="button" className="link" onClick={onSignOut}>
          sign in again
        </button>
      )}
    </span>
  );
}
