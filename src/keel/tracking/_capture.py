"""What a run records without being asked: code version, uncommitted changes, environment."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

GIT_TIMEOUT_S = 10
MAX_UNTRACKED_BYTES = 1 << 20


@dataclass(frozen=True)
class Capture:
    tags: dict[str, str]
    files: dict[str, bytes] = field(default_factory=dict)  # artifact path -> content


def _git(cwd: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, timeout=GIT_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.decode("utf-8", "replace")


def git_state(cwd: Path) -> tuple[dict[str, str], bytes | None]:
    """Tags describing the git checkout at ``cwd`` and the uncommitted diff (None if clean)."""
    top = _git(cwd, "rev-parse", "--show-toplevel")
    if top is None:
        return {}, None
    root = Path(top.strip())
    tags = {"keel.git.root": str(root)}
    commit = _git(root, "rev-parse", "HEAD")
    if commit:
        tags["keel.git.commit"] = commit.strip()
    branch = _git(root, "rev-parse", "--abbrev-ref", "HEAD")
    if branch:
        tags["keel.git.branch"] = branch.strip()
    remote = _git(root, "config", "--get", "remote.origin.url")
    if remote:
        tags["keel.git.remote"] = _strip_credentials(remote.strip())
    diff = _uncommitted_diff(root, has_head=bool(commit))
    tags["keel.git.dirty"] = "true" if diff else "false"
    return tags, diff or None


def _uncommitted_diff(root: Path, *, has_head: bool) -> bytes:
    """Tracked changes against HEAD plus new untracked files, as one applicable patch."""
    parts: list[bytes] = []
    if has_head:
        tracked = _git_bytes(root, "diff", "HEAD", "--binary")
        if tracked:
            parts.append(tracked)
    untracked = _git(root, "ls-files", "--others", "--exclude-standard", "-z") or ""
    for name in filter(None, untracked.split("\0")):
        path = root / name
        try:
            if path.stat().st_size > MAX_UNTRACKED_BYTES:
                continue
        except OSError:
            continue
        patch = _git_bytes(
            root, "diff", "--no-index", "--binary", "--", "/dev/null", name, ok_codes=(0, 1)
        )
        if patch:
            parts.append(patch)
    return b"".join(parts)


def _git_bytes(root: Path, *args: str, ok_codes: tuple[int, ...] = (0,)) -> bytes | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, timeout=GIT_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode in ok_codes else None


def _strip_credentials(url: str) -> str:
    if "://" in url and "@" in url.split("://", 1)[1].split("/", 1)[0]:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://{rest.split('@', 1)[1]}"
    return url


@cache
def requirements_text() -> bytes:
    """``name==version`` of every installed distribution (once per process)."""
    from importlib import metadata

    seen: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and name.lower() not in seen:
            seen[name.lower()] = f"{name}=={dist.version}"
    return ("\n".join(sorted(seen.values(), key=str.lower)) + "\n").encode()


def capture(cwd: Path | None = None, *, requirements: bool = True) -> Capture:
    """Everything a run records about where and how it ran (``requirements=False`` skips
    the list of installed packages, which costs a second on a cold process)."""
    cwd = cwd or Path.cwd()
    entry = sys.argv[0] if sys.argv and sys.argv[0] else "<interactive>"
    tags = {
        "keel.source.entrypoint": entry,
        "keel.source.argv": json.dumps(sys.argv[1:]),
        "keel.source.cwd": str(cwd),
        "keel.python.version": platform.python_version(),
        "keel.python.executable": sys.executable,
        "keel.host": platform.node(),
        "keel.platform": platform.platform(),
        "keel.pid": str(os.getpid()),
    }
    if len(tags["keel.source.argv"]) > 60_000:  # too long to replay; keep the rest
        del tags["keel.source.argv"]
    git_tags, diff = git_state(cwd)
    tags.update(git_tags)
    files = {"_keel/requirements.txt": requirements_text()} if requirements else {}
    if diff:
        files["_keel/uncommitted.diff"] = diff
    return Capture(tags, files)
