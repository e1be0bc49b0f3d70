"""Options several command modules take, declared once (their help text is part of the CLI)."""

import errno
import os
from pathlib import Path

import typer

JSON = typer.Option(False, "--json", help="Print JSON for scripts.")
TRUST = typer.Option(
    None, "--trust", help="Signature policy: strict | warn | off (default: KEEL_MODEL_TRUST)."
)


def check_out_path(path: Path | None, *, parents: bool = False) -> None:
    """Fail now, in one line, when ``path`` cannot be written: a missing folder (unless the
    writer makes it, ``parents``), a file where a folder should be, a folder that takes no
    files. Commands call it before their work, not after it. The error is the OS error the
    write would raise, which ``run_cli`` prints as one line."""
    if path is None:
        return
    target = path.expanduser().absolute()
    if target.is_dir():
        raise OSError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        code = errno.ENOTDIR
    elif folder != target.parent and not parents:
        code = errno.ENOENT
    elif not os.access(folder, os.W_OK | os.X_OK):
        code = errno.EACCES
    else:
        return
    raise OSError(code, os.strerror(code), str(path))
