"""Rooms: meetings and online classes (the control plane; media flows through Janus). docs/rooms.md."""
