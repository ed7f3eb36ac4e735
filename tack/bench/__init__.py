"""`tack bench`: load harnesses that drive a running Tack over real HTTP and WebSocket connections.

They run in a process of their own (never inside the server they measure), talk only to 127.0.0.1
when they start the server themselves, and stop by themselves after a bounded time.
"""
