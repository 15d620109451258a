/**
 * `<InboxBell/>`: a button with the unseen count; it opens a popover with the
 * inbox, and what the popover shows is marked seen (the badge clears in every
 * tab and device; the items stay unread until acted on).
 *
 * Keyboard: Enter/Space opens it, Escape closes it and gives focus back to the bell.
 */

import { useEffect, useId, useRef, useState, type ReactNode } from "react";

import { useInboxCounts } from "../react.js";
import { Inbox, type InboxProps } from "./Inbox.js";

export interface InboxBellProps {
  /** The bell's face (default: a bell icon). */
  icon?: ReactNode;
  /** Accessible name; the unseen count is appended (default "Notifications"). */
  label?: string;
  /** Badge at most this number, then `N+` (default 99). */
  maxBadge?: number;
  /** Props of the `<Inbox/>` in the popover (default: unread/all/archived, 10 per page). */
  inboxProps?: InboxProps;
  /** Start open (e.g. restoring UI state). */
  defaultOpen?: boolean;
  className?: string;
}

function BellIcon() {
  return (
    <svg width="20" height="20" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
      <path
        fill="currentColor"
        d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3a1.5 1.5 0 0 0-3 0v1.16A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2Z"
      />
    </svg>
  );
}

export function InboxBell({
  icon = <BellIcon />,
  label = "Notifications",
  maxBadge = 99,
  inboxProps,
  defaultOpen = false,
  className,
}: InboxBellProps) {
  const counts = useInboxCounts();
  const [open, setOpen] = useState(defaultOpen);
  const panelId = useId();
  const buttonRef = useRef<HTMLButtonElement>(null);
  const rootRef = useRef<HTMLDivElement>(null);
  const unseen = counts?.unseen ?? null;

  // A click outside closes the popover (as Escape does).
  useEffect(() => {
    if (!open) return;
    const onPointer = (event: Event) => {
      if (rootRef.current && !rootRef.current.contains(event.target as Node)) setOpen(false);
    };
    document.addEventListener("mousedown", onPointer);
    return () => document.removeEventListener("mousedown", onPointer);
  }, [open]);

  const badge = unseen === null || unseen === 0 ? null : unseen > maxBadge ? `${maxBadge}+` : String(unseen);
  return (
    <div className={["sh-bell", className].filter(Boolean).join(" ")} ref={rootRef}>
      <button
        ref={buttonRef}
        type="button"
        className="sh-bell-button"
        aria-haspopup="dialog"
        aria-expanded={open}
        aria-controls={open ? panelId : undefined}
        aria-label={unseen ? `${label}, ${unseen} unseen` : label}
        onClick={() => setOpen((o) => !o)}
        data-testid="inbox-bell"
        data-unseen={unseen ?? ""}
      >
        {icon}
        {badge && (
          <span className="sh-bell-badge" data-testid="bell-badge" aria-hidden="true">
            {badge}
          </span>
        )}
      </button>
      {open && (
        <div
          id={panelId}
          role="dialog"
          aria-label={label}
          className="sh-bell-panel"
          data-testid="bell-panel"
          onKeyDown={(event) => {
            if (event.key === "Escape") {
              event.stopPropagation();
              setOpen(false);
              buttonRef.current?.focus();
            }
          }}
        >
          <Inbox pageSize={10} title={label} {...inboxProps} markShownSeen />
        </div>
      )}
    </div>
  );
}
