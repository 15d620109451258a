/** Pure: the state of one workflow as its signals describe it. */

import { isSeedSignal, type AnySignal } from "./types.js";

/** One `progress` signal, as a step of the workflow. */
export interface WorkflowStep {
  seq: number;
  step: string | null;
  progress: number;
  message: string | null;
  timestamp: string;
}

export interface WorkflowProgress {
  workflowId: string;
  /** `waiting`: no signal yet; `running`; `completed`; `failed` (an `error` signal). */
  phase: "waiting" | "running" | "completed" | "failed";
  /** 0..1: the highest progress reported (1 once completed). */
  progress: number;
  /** The latest step name and message. */
  step: string | null;
  message: string | null;
  /** The latest `status_update` status (e.g. `started`). */
  status: string | null;
  /** Every `progress` signal, in seq order. */
  steps: WorkflowStep[];
  /** `data.result` of the completion signal. */
  result: unknown;
  error: { error: string; error_code: string | null } | null;
  /** Every signal of the workflow, in seq order, without duplicates. */
  signals: AnySignal[];
}

/** Merge two lists of signals: seq order, one per seq. */
export function mergeSignals<T extends AnySignal>(a: readonly T[], b: readonly T[]): T[] {
  const bySeq = new Map<number, T>();
  for (const s of a) bySeq.set(s.seq, s);
  for (const s of b) if (!bySeq.has(s.seq)) bySeq.set(s.seq, s);
  return [...bySeq.values()].sort((x, y) => x.seq - y.seq);
}

/** Fold a workflow's signals (any order, duplicates allowed) into its current state. */
export function summarizeWorkflow(workflowId: string, signals: readonly AnySignal[]): WorkflowProgress {
  const ordered = mergeSignals(
    signals.filter((s) => s.workflow_id === workflowId),
    [],
  );
  const state: WorkflowProgress = {
    workflowId,
    phase: "waiting",
    progress: 0,
    step: null,
    message: null,
    status: null,
    steps: [],
    result: undefined,
    error: null,
    signals: ordered,
  };
  for (const signal of ordered) {
    if (!isSeedSignal(signal)) continue; // custom types are listed in `signals`, but do not move the phase
    switch (signal.signal_type) {
      case "status_update":
        state.status = signal.data.status;
        if (signal.data.message) state.message = signal.data.message;
        if (typeof signal.data.progress === "number") state.progress = Math.max(state.progress, signal.data.progress);
        if (state.phase === "waiting") state.phase = "running";
        break;
      case "progress":
        state.steps.push({
          seq: signal.seq,
          step: signal.data.step ?? null,
          progress: signal.data.progress,
          message: signal.data.message ?? null,
          timestamp: signal.timestamp,
        });
        state.progress = Math.max(state.progress, signal.data.progress);
        state.step = signal.data.step ?? state.step;
        state.message = signal.data.message ?? state.message;
        if (state.phase === "waiting") state.phase = "running";
        break;
      case "completion":
        state.phase = "completed";
        state.progress = 1;
        state.result = signal.data.result;
        state.message = signal.data.message ?? state.message;
        break;
      case "error":
        state.phase = "failed";
        state.error = { error: signal.data.error, error_code: signal.data.error_code ?? null };
        state.message = signal.data.error;
        break;
    }
  }
  return state;
}
