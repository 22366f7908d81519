"""The browser UI's files, served from `webroot/` by Litestar's static files router."""

from __future__ import annotations

from typing import Any

from litestar.file_system import BaseLocalFileSystem
from litestar.types.file_types import FileInfo


class WebrootFiles(BaseLocalFileSystem):
    """The local file system, where a path no file can have is simply not found.

    A request path may decode to a NUL (`/%00`); the OS refuses such a name with ValueError,
    which Litestar would pass on as a 500.
    """

    async def info(self, path: Any, **kwargs: Any) -> FileInfo:
        if "\x00" in str(path):
            raise FileNotFoundError(path)
        return await super().info(path, **kwargs)
