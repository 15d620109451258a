"""Temporal side of signalhub (task queue `signalhub`).

- `activities`: the seed's five signal activities (exactly once per activity) and the document steps;
- `workflows`: `DocumentProcessingWorkflow`;
- `worker`: `signalhub worker`;
- `starter`: `signalhub demo`;
- `interceptors`: opt-in lifecycle signals for any workflow that carries a user id.
"""
