import { useEffect, useState, type FormEvent } from "react";

import { HttpError, type HttpApi } from "@signalhub/client";
import { useSignalClient } from "@signalhub/client/react";

/** `data` of the custom `approval_needed` signal ApprovalWorkflow sends. */
export interface ApprovalData {
  question: string;
  options: string[];
}

const PAST: Record<string, string> = { approve: "approved", reject: "rejected" };

interface Approval {
  workflowId: string;
  question: string;
  options: string[];
  decision: string | null;
  sending: boolean;
}

/**
 * A custom signal with an answer: the workflow asks (`approval_needed`), a
 * button answers through the API, which sends the Temporal Signal `decide`
 * into the workflow; its `completion` closes the request.
 */
export function Approvals({ http }: { http: HttpApi }) {
  const client = useSignalClient();
  const [question, setQuestion] = useState("Publish the Q3 report?");
  const [approvals, setApprovals] = useState<Approval[]>([]);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const offAsked = client.onType<ApprovalData>("approval_needed", (signal) =>
      setApprovals((previous) =>
        previous.some((a) => a.workflowId === signal.workflow_id)
          ? previous
          : [{ workflowId: signal.workflow_id, question: signal.data.question, options: signal.data.options, decision: null, sending: false }, ...previous].slice(0, 5),
      ),
    );
    const offDone = client.on("completion", (signal) => {
      const decision = (signal.data.result as { decision?: unknown } | undefined)?.decision;
      if (typeof decision !== "string") return;
      setApprovals((previous) => previous.map((a) => (a.workflowId === signal.workflow_id ? { ...a, decision, sending: false } : a)));
    });
    return () => {
      offAsked();
      offDone();
    };
  }, [client]);

  const ask = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    try {
      await http.request("POST", "/api/v1/approvals", { body: { question } });
    } catch (e) {
      setError(e instanceof HttpError ? e.message : (e as Error).message);
    }
  };

  const answer = async (workflowId: string, decision: string) => {
    setApprovals((previous) => previous.map((a) => (a.workflowId === workflowId ? { ...a, sending: true } : a)));
    try {
      await http.request("POST", `/api/v1/approvals/${encodeURIComponent(workflowId)}/decision`, { body: { decision } });
    } catch (e) {
      setError(e instanceof HttpError ? e.message : (e as Error).message);
      setApprovals((previous) => previous.map((a) => (a.workflowId === workflowId ? { ...a, sending: false } : a)));
    }
  };

  return (
    <section className="card approvals" aria-labelledby="approvals-title">
      <h2 id="approvals-title">Approvals</h2>
      <p className="muted">A workflow asks with a custom signal; your answer goes back into it as a Temporal Signal.</p>
      <form onSubmit={ask} className="upload">
        <input aria-label="question" value={question} onChange={(e) => setQuestion(e.target.value)} data-testid="approval-question" />
        <button type="submit" className="primary" data-testid="approval-ask">
          Ask for approval
        </button>
      </form>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {approvals.map((a) => (
        <article key={a.workflowId} className="workflow" data-testid="approval" data-workflow-id={a.workflowId} data-decision={a.decision ?? ""}>
          <header>
            <h3 title={a.workflowId}>{a.question}</h3>
            <span className={`phase ${a.decision ? "phase-completed" : "phase-running"}`}>{a.decision ? PAST[a.decision] ?? a.decision : "waiting for you"}</span>
          </header>
          {!a.decision && (
            <div className="upload">
              {a.options.map((option) => (
                <button key={option} type="button" disabled={a.sending} onClick={() => void answer(a.workflowId, option)} data-testid={`approval-${option}`}>
                  {option}
                </button>
              ))}
            </div>
          )}
        </article>
      ))}
    </section>
  );
}
