import { WorkflowProgress } from "@signalhub/client/react";

type DocumentResult = { text_length?: number; chunk_count?: number } | undefined;

/** One document's workflow: the package's live progress card, with what a processed document reports. */
export function WorkflowCard({ workflowId, label }: { workflowId: string; label: string }) {
  return (
    <WorkflowProgress
      workflowId={workflowId}
      label={label}
      renderResult={(result) => {
        const r = result as DocumentResult;
        return `Done${r?.chunk_count !== undefined ? `: ${r.chunk_count} chunks from ${r.text_length} characters` : ""}.`;
      }}
    />
  );
}
