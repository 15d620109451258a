import { describe, expect, it } from "vitest";

import { mergeSignals, summarizeWorkflow } from "../src/workflow.js";
import { signal } from "./fakes.js";

describe("summarizeWorkflow", () => {
  it("lists every step once, in seq order, whatever order and duplicates it got", () => {
    const signals = [
      signal(3, "progress", "wf", { progress: 0.5, step: "chunk" }),
      signal(1, "status_update", "wf", { status: "started", message: "Document processing started" }),
      signal(2, "progress", "wf", { progress: 0.25, step: "extract" }),
      signal(3, "progress", "wf", { progress: 0.5, step: "chunk" }),
      signal(9, "progress", "other", { progress: 0.9, step: "elsewhere" }),
    ];
    const state = summarizeWorkflow("wf", signals);
    expect(state.phase).toBe("running");
    expect(state.status).toBe("started");
    expect(state.steps.map((s) => s.step)).toEqual(["extract", "chunk"]);
    expect(state.progress).toBe(0.5);
    expect(state.signals.map((s) => s.seq)).toEqual([1, 2, 3]);
  });

  it("ends completed with the result, or failed with the error", () => {
    const done = summarizeWorkflow("wf", [
      signal(1, "progress", "wf", { progress: 0.9, step: "index" }),
      signal(2, "completion", "wf", { result: { status: "completed", chunk_count: 4 }, message: "done" }),
    ]);
    expect(done.phase).toBe("completed");
    expect(done.progress).toBe(1);
    expect(done.result).toEqual({ status: "completed", chunk_count: 4 });
    const failed = summarizeWorkflow("wf", [signal(1, "error", "wf", { error: "unreadable PDF", error_code: "BAD_PDF" })]);
    expect(failed.phase).toBe("failed");
    expect(failed.error).toEqual({ error: "unreadable PDF", error_code: "BAD_PDF" });
    expect(summarizeWorkflow("wf", []).phase).toBe("waiting");
  });

  it("merges stored and live signals without duplicates", () => {
    const merged = mergeSignals([signal(1), signal(3)], [signal(2), signal(3)]);
    expect(merged.map((s) => s.seq)).toEqual([1, 2, 3]);
  });
});
