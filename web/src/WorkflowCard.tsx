import { isSeedSignal, type AnySignal } from "@signalhub/client";
import { useWorkflowProgress } from "@signalhub/client/react";

const PHASES = { waiting: "Waiting", running: "Running", completed: "Completed", failed: "Failed" } as const;

/** One workflow: progress bar, every step as it arrives, then the result or the error. */
export function WorkflowCard({ workflowId, label }: { workflowId: string; label: string }) {
  const state = useWorkflowProgress(workflowId);
  const percent = Math.round(state.progress * 100);
  const result = state.result as { text_length?: number; chunk_count?: number } | undefined;
  return (
    <article className={`workflow workflow-${state.phase}`} data-testid="workflow-card" data-workflow-id={workflowId} data-phase={state.phase}>
      <header>
        <h3 title={workflowId}>{label}</h3>
        <span className={`phase phase-${state.phase}`} data-testid="workflow-phase">
          {PHASES[state.phase]}
        </span>
      </header>
      <div
        className="progress"
        role="progressbar"
        aria-label={`${label} progress`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        data-testid="workflow-progress"
      >
        <div className="bar" style={{ width: `${percent}%` }} />
        <span className="percent">{percent}%</span>
      </div>
      {state.message && <p className="message">{state.message}</p>}
      <ol className="steps" data-testid="workflow-steps">
        {state.signals.map((signal) => (
          <li key={signal.seq} data-seq={signal.seq} data-type={signal.signal_type} data-testid="workflow-signal">
            <StepLabel signal={signal} />
          </li>
        ))}
      </ol>
      {state.phase === "completed" && (
        <p className="result" data-testid="workflow-result">
          Done{result?.chunk_count !== undefined ? `: ${result.chunk_count} chunks from ${result.text_length} characters` : ""}.
        </p>
      )}
      {state.error && (
        <p className="error" data-testid="workflow-error">
          {state.error.error}
          {state.error.error_code ? ` (${state.error.error_code})` : ""}
        </p>
      )}
    </article>
  );
}

function StepLabel({ signal }: { signal: AnySignal }) {
  if (!isSeedSignal(signal)) return <span className="step-name">{signal.signal_type.replaceAll("_", " ")}</span>;
  switch (signal.signal_type) {
    case "progress":
      return (
        <>
          <span className="step-name">{signal.data.step ?? "progress"}</span>{" "}
          <span className="muted">{Math.round(signal.data.progress * 100)}%</span>
        </>
      );
    case "status_update":
      return <span className="step-name">{signal.data.status}</span>;
    case "completion":
      return <span className="step-name">completed</span>;
    case "error":
      return <span className="step-name">failed</span>;
  }
}
