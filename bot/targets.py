"""What someone at the terminal asks to digest: a saved thread file, or a Reddit URL."""

from __future__ import annotations

from pathlib import Path

from digest.errors import DigestError


class InputError(DigestError):
    """The thing to digest could not be found or read."""


def looks_like_url(text: str) -> bool:
    lowered = text.lower()
    return lowered.startswith(("http://", "https://", "www.")) or (
        "reddit.com/" in lowered or "redd.it/" in lowered
    )


def read_file(target: str) -> bytes | None:
    """The file's bytes; None when there is no such file (the target may be a URL)."""
    path = Path(target).expanduser()
    if not path.exists():
        return None
    if path.is_dir():
        raise InputError(f"{path} is a folder: pass a saved thread JSON file.")
    try:
        return path.read_bytes()
    except PermissionError:
        raise InputError(f"{path} cannot be read: permission denied.") from None
    except OSError as exc:
        raise InputError(f"{path} cannot be read: {exc.strerror or exc}.") from None
