"""The prebuilt WebSocket frames of tack/stream/wire.py are the frames the WebSocket library makes."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode

from tack.stream.wire import DirectWriter, text_frame


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 200_000])
def test_text_frames_match_the_websocket_library(size: int) -> None:
    payload = ("é" * (size // 2)) + ("x" * (size % 2))  # multi-byte characters: lengths are in bytes
    expected = Frame(Opcode.TEXT, payload.encode()).serialize(mask=False, extensions=[])
    assert text_frame(payload) == expected


def test_other_servers_get_no_direct_writer() -> None:
    async def plain_send(message: dict) -> None: ...

    assert DirectWriter.for_scope({"type": "websocket"}) is None
    assert DirectWriter.for_scope({"type": "websocket", "tack.server_send": plain_send}) is None
