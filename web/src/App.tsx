import { useEffect, useState } from "react";

import { HttpApi, InboxApi, InboxStore, SignalClient, TokenSource } from "@signalhub/client";
import { Inbox, InboxBell, SignalProvider } from "@signalhub/client/react";

import { Approvals } from "./Approvals";
import { ConnectionBadge } from "./ConnectionBadge";
import { Documents } from "./Documents";
import { loadSession, saveSession, tokenProvider, tokenSubject, type SessionMode } from "./session";
import { SignIn } from "./SignIn";
import { WorkflowWatch } from "./WorkflowWatch";

export interface Services {
  client: SignalClient;
  inbox: InboxStore;
  http: HttpApi;
}

function createServices(mode: SessionMode): Services {
  const tokens = new TokenSource(tokenProvider(mode));
  const http = new HttpApi({ token: tokens });
  const client = new SignalClient();
  const inbox = new InboxStore(new InboxApi(http), client);
  client.connect(tokens);
  return { client, inbox, http };
}

export function App() {
  const [mode, setMode] = useState<SessionMode | null>(loadSession);
  const [services, setServices] = useState<Services | null>(null);

  useEffect(() => {
    if (!mode) return;
    const created = createServices(mode);
    setServices(created);
    return () => {
      created.client.disconnect();
      created.inbox.close();
      setServices(null);
    };
  }, [mode]);

  const signIn = (next: SessionMode) => {
    saveSession(next);
    setMode(next);
  };
  const signOut = () => {
    saveSession(null);
    setMode(null);
  };

  if (!mode) {
    return (
      <div className="page">
        <header className="topbar">
          <h1>signalhub</h1>
        </header>
        <SignIn onSignIn={signIn} />
      </div>
    );
  }
  if (!services) return null;
  return (
    <SignalProvider client={services.client} inbox={services.inbox}>
      <div className="page">
        <header className="topbar">
          <h1>signalhub</h1>
          <ConnectionBadge onSignOut={signOut} />
          <InboxBell />
          <span className="user" data-testid="user-id" title="signed-in user">
            {tokenSubject(mode.token) ?? "unknown user"}
          </span>
          <button type="button" className="link" onClick={signOut}>
            Sign out
          </button>
        </header>
        <main className="columns">
          <Documents http={services.http} />
          <Inbox showFilters className="card" />
        </main>
        <section className="columns extras">
          <Approvals http={services.http} />
          <WorkflowWatch tokens={services.client.tokens} />
        </section>
      </div>
    </SignalProvider>
  );
}
