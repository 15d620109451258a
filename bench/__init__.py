"""`python -m bench`: signalhub side by side with the usual choices, on this machine.

Each system runs in its own process under uvicorn; a separate load generator
(several client processes on 127.0.0.1) drives every system the same way.
See docs/performance.md for what is measured and how to read the report.
"""
