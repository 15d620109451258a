/**
 * `<WorkflowProgress workflowId=…/>`: the live card of one workflow (progress
 * bar, every step as it arrives, then the result or the error). Stored steps
 * are loaded first, so a card opened mid-workflow or after a reload is complete.
 */

import { useState, type ReactNode } from "react";

import { useInboxStore, useWorkflowProgress } from "../react.js";
import { isSeedSignal, type AnySignal } from "../types.js";
import type { WorkflowProgress as Progress } from "../workflow.js";

export interface WorkflowProgressProps {
  workflowId: string;
  /** The card's heading (default: the workflow id). */
  label?: ReactNode;
  /** What a completed workflow shows (default: "Done."). */
  renderResult?: (result: unknown, state: Progress) => ReactNode;
  /** One line per signal (default: step name, percent, status, "completed" or "failed"; a custom type's name). */
  renderSignal?: (signal: AnySignal) => ReactNode;
  /** Offer a button that archives every inbox signal of this workflow (default true). */
  archiveButton?: boolean;
  className?: string;
}

const PHASES = { waiting: "Waiting", running: "Running", completed: "Completed", failed: "Failed" } as const;

export function defaultSignalLine(signal: AnySignal): ReactNode {
  if (!isSeedSignal(signal)) return <span className="sh-step-name">{signal.signal_type.replaceAll("_", " ")}</span>;
  switch (signal.signal_type) {
    case "progress":
      return (
        <>
          <span className="sh-step-name">{signal.data.step ?? "progress"}</span>{" "}
          <span className="sh-muted">{Math.round(signal.data.progress * 100)}%</span>
        </>
      );
    case "status_update":
      return <span className="sh-step-name">{signal.data.status}</span>;
    case "completion":
      return <span className="sh-step-name">completed</span>;
    case "error":
      return <span className="sh-step-name">failed</span>;
  }
}

export function WorkflowProgress({
  workflowId,
  label,
  renderResult,
  renderSignal = defaultSignalLine,
  archiveButton = true,
  className,
}: WorkflowProgressProps) {
  const state = useWorkflowProgress(workflowId);
  const inbox = useInboxStore();
  const [archived, setArchived] = useState<number | null>(null);
  const percent = Math.round(state.progress * 100);
  const title = label ?? workflowId;
  const headingId = `sh-wf-${workflowId.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  return (
    <article
      className={["sh-workflow", `sh-workflow-${state.phase}`, className].filter(Boolean).join(" ")}
      aria-labelledby={headingId}
      aria-busy={state.loading}
      data-testid="workflow-card"
      data-workflow-id={workflowId}
      data-phase={state.phase}
    >
      <header className="sh-workflow-header">
        <h3 id={headingId} title={workflowId}>
          {title}
        </h3>
        <span className={`sh-phase sh-phase-${state.phase}`} data-testid="workflow-phase" role="status">
          {PHASES[state.phase]}
        </span>
      </header>
      <div
        className="sh-progress"
        role="progressbar"
        aria-label={`${typeof title === "string" ? title : workflowId} progress`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        data-testid="workflow-progress"
      >
        <div className="sh-progress-bar" style={{ width: `${percent}%` }} />
        <span className="sh-progress-percent">{percent}%</span>
      </div>
      {state.message && <p className="sh-workflow-message">{state.message}</p>}
      <ol className="sh-workflow-steps" data-testid="workflow-steps">
        {state.signals.map((signal) => (
          <li key={signal.seq} data-seq={signal.seq} data-type={signal.signal_type} data-testid="workflow-signal">
            {renderSignal(signal)}
          </li>
        ))}
      </ol>
      {state.phase === "completed" && (
        <p className="sh-workflow-result" data-testid="workflow-result">
          {renderResult ? renderResult(state.result, state) : "Done."}
        </p>
      )}
      {state.error && (
        <p className="sh-workflow-error" data-testid="workflow-error">
          {state.error.error}
          {state.error.error_code ? ` (${state.error.error_code})` : ""}
        </p>
      )}
      {archiveButton && state.signals.length > 0 && (
        <footer className="sh-workflow-actions">
          <button
            type="button"
            data-testid="workflow-archive"
            onClick={() => void inbox.bulk("archive", { workflow_id: workflowId }).then(setArchived, () => setArchived(null))}
          >
            Archive its signals
          </button>
          {archived !== null && (
            <span className="sh-muted" role="status" data-testid="workflow-archived">
              {archived} archived
            </span>
          )}
        </footer>
      )}
    </article>
  );
}
