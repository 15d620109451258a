"""The systems under test, each a small ASGI app run by uvicorn in its own process.

Every app exposes the same bench routes, so one load generator drives them all:
- `POST /bench/fanout {"rounds", "size", "rate"}` starts a background producer that,
  per round, sends one signal-shaped frame to every connected user's sockets
  (as fast as possible, or `rate` rounds per second), and returns at once;
- `POST /bench/emit {"user", "data"}` sends one frame to one user's sockets;
- `GET /bench/stats` -> `{"connections": N}`.
"""
