import { useState, type FormEvent } from "react";

import { fetchDemoToken, type SessionMode } from "./session";

export function SignIn({ onSignIn }: { onSignIn: (mode: SessionMode) => void }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [pasted, setPasted] = useState("");

  const demo = async () => {
    setBusy(true);
    setError(null);
    try {
      onSignIn({ kind: "demo", token: await fetchDemoToken() });
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const paste = (event: FormEvent) => {
    event.preventDefault();
    const token = pasted.trim();
    if (token.split(".").length !== 3) {
      setError("That does not look like a JWT (three dot-separated parts).");
      return;
    }
    onSignIn({ kind: "token", token });
  };

  return (
    <section className="card sign-in">
      <h2>Sign in</h2>
      <p>Watch Temporal workflows report their progress live, and keep every signal in your inbox.</p>
      <button type="button" className="primary" onClick={demo} disabled={busy} data-testid="demo-sign-in">
        Sign in as the demo user
      </button>
      <form onSubmit={paste} className="paste">
        <label htmlFor="token">or paste a user token</label>
        <textarea
          id="token"
          rows={3}
          value={pasted}
          onChange={(e) => setPasted(e.target.value)}
          placeholder="eyJhbGciOi… (signalhub token --user <uuid>)"
          data-testid="token-input"
        />
        <button type="submit">Use this token</button>
      </form>
      {error && (
        <p className="error" role="alert" data-testid="sign-in-error">
          {error}
        </p>
      )}
    </section>
  );
}
