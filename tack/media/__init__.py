"""Audio, video and broadcast through Janus: the media control plane (docs/media.md)."""
