"""A worker-like emitter process: `python emitter.py '{"users": [...], "count": N, ...}'`.

Emits `count` signals for each user through `SignalService` (store, then the
broker from BROKER_URL), as a Temporal activity would. Options:
`pace` seconds to sleep after each emit (so a stream lasts long enough to be
interrupted), `kinds` signal types to cycle through, `workflows` how many
workflow ids to spread them over, `concurrency` emit loops per user, `data_padding` a string added to every
signal's data (to make frames big).
Prints one JSON line at the end: {"emitted": N, "publish_failures": M}.
"""

from __future__ import annotations

import asyncio
import json
import sys

from prometheus_client import REGISTRY

from signalhub import metrics  # noqa: F401  (registers the counters)
from signalhub.runtime import open_runtime
from signalhub.settings import Settings

DATA = {
    "status_update": lambda n: {"status": "running", "message": f"step {n}"},
    "progress": lambda n: {"progress": (n % 100) / 100, "step": f"step {n}"},
    "completion": lambda n: {"result": {"n": n}, "message": "done"},
    "error": lambda n: {"error": f"failed at {n}", "error_code": "E1"},
}


async def emit_all(plan: dict) -> dict:
    count, pace = plan["count"], plan.get("pace", 0.0)
    kinds = plan.get("kinds", ["status_update"])
    workflows = plan.get("workflows", 1)
    concurrency = plan.get("concurrency", 1)
    padding = plan.get("data_padding")
    emitted = 0
    async with open_runtime(Settings(), run_migrations=False, pool_size=max(2, concurrency * len(plan["users"]))) as rt:

        async def loop(user: str, numbers) -> None:
            nonlocal emitted
            for n in numbers:
                kind = kinds[n % len(kinds)]
                data = DATA[kind](n)
                if padding:
                    data["padding"] = padding
                await rt.service.emit(user, kind, f"wf-{n % workflows}", data)
                emitted += 1
                if pace:
                    await asyncio.sleep(pace)

        tasks = []
        for user in plan["users"]:
            numbers = iter(range(count))
            shared = _Shared(numbers)
            tasks += [loop(user, shared) for _ in range(concurrency)]
        await asyncio.gather(*tasks)
    failures = REGISTRY.get_sample_value("signalhub_publish_failures_total") or 0
    return {"emitted": emitted, "publish_failures": int(failures)}


class _Shared:
    """One range drawn from by several loops (each number emitted once)."""

    def __init__(self, numbers) -> None:
        self._numbers = numbers

    def __iter__(self):
        return self

    def __next__(self) -> int:
        return next(self._numbers)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(emit_all(json.loads(sys.argv[1])))), flush=True)
