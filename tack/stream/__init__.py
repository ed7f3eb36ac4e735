"""The real-time stream: one WebSocket per client session at /api/v1/stream (docs/stream.md)."""
