import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";

import { HttpError, type HttpApi } from "@signalhub/client";
import { useSignalClient } from "@signalhub/client/react";

import { SAMPLES } from "./samples";
import { WorkflowCard } from "./WorkflowCard";

interface TrackedWorkflow {
  workflowId: string;
  label: string;
}

interface DocumentStarted {
  workflow_id: string;
  document_id: string;
  file_name?: string;
}

interface DocumentList {
  documents: { workflow_id: string | null; file_name: string }[];
}

const SHOWN = 6;

/** Upload (or pick a sample), then watch each document's workflow live. */
export function Documents({ http }: { http: HttpApi }) {
  const client = useSignalClient();
  const [workflows, setWorkflows] = useState<TrackedWorkflow[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);

  /** Show a workflow: new ones go on top (or below the others when `older`); `relabel` names a known one. */
  const track = useCallback((workflow: TrackedWorkflow, { relabel = false, older = false } = {}) => {
    setWorkflows((previous) => {
      if (previous.some((w) => w.workflowId === workflow.workflowId)) {
        return relabel ? previous.map((w) => (w.workflowId === workflow.workflowId ? workflow : w)) : previous;
      }
      return (older ? [...previous, workflow] : [workflow, ...previous]).slice(0, SHOWN);
    });
  }, []);

  // Workflows started elsewhere (another tab, the CLI, a backend) show up as soon as they signal.
  useEffect(
    () => client.on("signal", (signal) => track({ workflowId: signal.workflow_id, label: signal.workflow_id })),
    [client, track],
  );

  // After a reload: the user's most recent documents.
  useEffect(() => {
    let active = true;
    http
      .request<DocumentList>("GET", "/api/v1/documents", { query: { limit: 3 } })
      .then((list) => {
        if (!active) return;
        for (const doc of list.documents) {
          if (doc.workflow_id) track({ workflowId: doc.workflow_id, label: doc.file_name }, { relabel: true, older: true });
        }
      })
      .catch(() => undefined); // an API without documents still shows live workflows
    return () => {
      active = false;
    };
  }, [http, track]);

  const upload = async (file: File) => {
    setBusy(true);
    setError(null);
    try {
      const form = new FormData();
      form.append("file", file);
      const started = await http.request<DocumentStarted>("POST", "/api/v1/documents", { body: form });
      track({ workflowId: started.workflow_id, label: started.file_name ?? file.name }, { relabel: true });
    } catch (e) {
      setError(e instanceof HttpError ? describe(e) : (e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const file = fileInput.current?.files?.[0];
    if (file) void upload(file);
    else setError("Choose a file first (.txt, .md or .pdf).");
  };

  return (
    <section className="card documents" aria-labelledby="documents-title">
      <h2 id="documents-title">Documents</h2>
      <form onSubmit={submit} className="upload">
        <input ref={fileInput} type="file" accept=".txt,.text,.md,.markdown,.pdf" data-testid="file-input" />
        <button type="submit" className="primary" disabled={busy} data-testid="upload">
          Process
        </button>
      </form>
      <div className="samples">
        <span className="muted">or try a sample:</span>
        {SAMPLES.map((sample) => (
          <button
            key={sample.id}
            type="button"
            disabled={busy}
            title={sample.description}
            onClick={() => void upload(sample.make())}
            data-testid={`sample-${sample.id}`}
          >
            {sample.label}
          </button>
        ))}
      </div>
      {error && (
        <p className="error" role="alert" data-testid="upload-error">
          {error}
        </p>
      )}
      {workflows.length === 0 ? (
        <p className="muted">No documents yet: process one and watch it here, step by step.</p>
      ) : (
        workflows.map((w) => <WorkflowCard key={w.workflowId} workflowId={w.workflowId} label={w.label} />)
      )}
    </section>
  );
}

function describe(error: HttpError): string {
  const detail = (error.body as { detail?: unknown } | null)?.detail;
  return typeof detail === "string" ? detail : error.message;
}
