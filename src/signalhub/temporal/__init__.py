"""Temporal side of signalhub (task queue `signalhub`).

- `notify`: what a workflow calls (`await notify.progress(user_id, 0.4, step="Chunking")`);
- `progress`: `progress_reporter`, progress from inside one long-running activity;
- `activities`: `SignalActivities`, the seed's five signal activities (exactly once each);
- `options`: the activity options every signal activity is scheduled with;
- `interceptors`: opt-in lifecycle signals for any workflow that carries a user id;
- `worker`: `signalhub worker`.

The document application's workflow and activities live in `signalhub.documents`.
This package's `__init__` imports nothing, so `notify` stays importable inside
the workflow sandbox.
"""
