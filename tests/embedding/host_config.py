"""What the host app (host_app.py) and its tests agree on."""

HOST_API_KEY = "host-api-key"
HOST_ORIGIN = "https://app.example.com"
HOST_MAX_BODY = 2048
