"""The console chat's sender (no Telegram token): the same `Sender` protocol as Telegram's, so the
notify activities and the heartbeat do not know which chat they talk to."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from activities.telegram.parts import OnSent
from core.domain.messages import Button, ChatMessage, PhotoMessage
from core.domain.render import console_text


class ConsoleSender:
    """Messages are printed for the person at the terminal; pictures are written into
    `pictures` (the data folder's `pictures/`) and their path printed."""

    def __init__(self, stream: TextIO | None = None, pictures: Path | None = None) -> None:
        self.stream = stream or sys.stdout
        self.pictures = pictures or Path("data") / "pictures"
        self._next_id = 0

    async def send(
        self, message: ChatMessage, skip_chunks: int = 0, on_sent: OnSent | None = None
    ) -> list[int]:
        text = console_text(message.text, message.buttons)
        if message.document_path:
            text += f"\n  (attached: {message.document_path})"
        if message.document_text is not None:
            text += f"\n  (attached {message.document_name}:)\n{message.document_text}"
        print(f"\n{text}\n", file=self.stream, flush=True)
        self._next_id += 1
        return [self._next_id]

    async def edit(self, chat_id: int, message_id: int, text: str, buttons: list[Button]) -> bool:
        return False  # a terminal cannot edit what it printed; the final message says it all

    async def send_photo(self, message: PhotoMessage) -> int:
        self._next_id += 1
        self.pictures.mkdir(parents=True, exist_ok=True)
        stem = Path(message.filename).stem or "picture"
        when = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = self.pictures / f"{stem}-{message.chat_id}-{when}.png"
        path.write_bytes(message.png)
        print(f"\n{message.caption}\n  (picture: {path})\n", file=self.stream, flush=True)
        return self._next_id

    async def close(self) -> None:
        return None
