"""Streaming on a real Redis: at-least-once, idempotent sink, dead letters, killed workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from serving_helpers import FEATURES, Proba, keel_env, wait_for

from keel.config import Settings
from keel.serving import LoadedModel
from keel.serving._schema import InputSchema
from keel.serving._stream import StreamWorker, parse_stream_url


@pytest.fixture
def streams(redis_url: str) -> Iterator[tuple[Any, str, str, str]]:
    """(client, source url, sink url, prefix); every key with the prefix is deleted after."""
    import redis

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    prefix = f"keeltest-{uuid.uuid4().hex[:8]}"
    yield (
        client,
        f"{redis_url}?stream={prefix}:events",
        f"{redis_url}?stream={prefix}:scores",
        prefix,
    )
    for key in client.scan_iter(f"*{prefix}*"):
        client.delete(key)
    client.close()


def push(client: Any, stream: str, frame: pd.DataFrame, n: int, start: int = 0) -> list[str]:
    rows = frame.iloc[[i % len(frame) for i in range(start, start + n)]]
    pipe = client.pipeline()
    for rec in rows.to_dict("records"):
        pipe.xadd(stream, {"data": json.dumps(rec)})
    return list(pipe.execute())


@pytest.fixture
def model(fitted: Any, frame: pd.DataFrame) -> LoadedModel:
    return LoadedModel("churn", "1", Proba(fitted), InputSchema.from_frame(frame.head()))


def test_scores_acks_and_dead_letters(
    streams: tuple[Any, str, str, str], model: LoadedModel, frame: pd.DataFrame, fitted: Any
) -> None:
    client, src_url, dst_url, _ = streams
    src, dst = parse_stream_url(src_url), parse_stream_url(dst_url)
    ids = push(client, src.stream, frame, 100)
    bad = [
        client.xadd(src.stream, {"data": json.dumps({"f0": 1.0})}),
        client.xadd(src.stream, {"data": json.dumps({**dict.fromkeys(FEATURES, 0.0), "f2": "x"})}),
        client.xadd(src.stream, {"data": "{not json"}),
    ]
    ids += push(client, src.stream, frame, 20, start=100)  # flat fields work too
    flat = client.xadd(src.stream, {k: str(v) for k, v in frame.iloc[0].items()})
    stats = StreamWorker(model, src, dst, batch_size=32, block_ms=100).run(idle_exit_s=0.5)
    assert (stats.read, stats.written, stats.dead, stats.acked) == (124, 124, 3, 124)
    out = client.xrange(dst.stream)
    assert [e[1]["id"] for e in out] == ids[:100] + ids[100:] + [flat]
    want = Proba(fitted).predict(frame.iloc[:100])
    assert [float(e[1]["prediction"]) for e in out[:100]] == pytest.approx(list(want))
    assert out[0][1]["model"] == "churn" and out[0][1]["version"] == "1"
    dead = client.xrange(src.dead_stream)
    assert [e[1]["id"] for e in dead] == bad
    reasons = [e[1]["reason"] for e in dead]
    assert "missing column(s) 'f1'" in reasons[0]
    assert "column 'f2' expects a number" in reasons[1]
    assert "invalid input" in reasons[2]
    assert json.loads(dead[2][1]["data"]) == {"data": "{not json"}
    assert client.xpending(src.stream, src.group)["pending"] == 0


def test_redelivered_messages_are_written_once(
    streams: tuple[Any, str, str, str], model: LoadedModel, frame: pd.DataFrame
) -> None:
    client, src_url, dst_url, _ = streams
    src, dst = parse_stream_url(src_url), parse_stream_url(dst_url)
    push(client, src.stream, frame, 50)
    StreamWorker(model, src, dst).run(idle_exit_s=0.3)
    again = parse_stream_url(src_url + "&group=replay")  # a second group sees every message
    stats = StreamWorker(model, again, dst).run(idle_exit_s=0.3)
    assert stats.read == 50 and stats.written == 0 and stats.duplicates == 50
    assert client.xlen(dst.stream) == 50


WORKER = textwrap.dedent(
    """
    import sys, time, warnings
    warnings.simplefilter("ignore")
    import numpy as np, pandas as pd
    from keel.serving import LoadedModel
    from keel.serving._schema import InputSchema
    from keel.serving._stream import StreamWorker, parse_stream_url

    class Slow:
        def predict(self, df):
            time.sleep(0.02)
            return df["f0"].to_numpy() * 2

    cols = [f"f{i}" for i in range(20)]
    schema = InputSchema.from_frame(pd.DataFrame(np.zeros((1, 20)), columns=cols))
    model = LoadedModel("churn", "1", Slow(), schema)
    src, dst = parse_stream_url(sys.argv[1]), parse_stream_url(sys.argv[2])
    StreamWorker(model, src, dst, batch_size=10, block_ms=100, claim_idle_ms=500).run(
        idle_exit_s=float(sys.argv[3]))
    """
)


def test_killed_worker_loses_nothing_and_scores_nothing_twice(
    streams: tuple[Any, str, str, str], frame: pd.DataFrame, tmp_path: Path, settings: Settings
) -> None:
    client, src_url, dst_url, _ = streams
    src, dst = parse_stream_url(src_url), parse_stream_url(dst_url)
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    ids = push(client, src.stream, frame, 600)
    env = keel_env(settings)
    first = subprocess.Popen([sys.executable, str(script), src_url, dst_url, "30"], env=env)
    wait_for(lambda: client.xlen(dst.stream) >= 150, timeout_s=60)
    os.kill(first.pid, signal.SIGKILL)  # mid-load: some messages read but not acknowledged
    first.wait(10)
    done = client.xlen(dst.stream)
    assert 150 <= done < 600
    pending = client.xpending(src.stream, src.group)["pending"]
    subprocess.run(
        [sys.executable, str(script), src_url, dst_url, "1.5"], env=env, check=True, timeout=120
    )
    out = client.xrange(dst.stream)
    written = [e[1]["id"] for e in out]
    assert len(written) == len(set(written)) == 600, (len(written), len(set(written)))
    assert set(written) == set(ids)
    assert client.xpending(src.stream, src.group)["pending"] == 0
    by_id = {e[1]["id"]: float(e[1]["prediction"]) for e in out}
    assert by_id[ids[0]] == pytest.approx(frame.iloc[0]["f0"] * 2)
    assert pending >= 0


def test_keel_stream_cli(
    streams: tuple[Any, str, str, str], frame: pd.DataFrame, settings: Settings, registered: str
) -> None:
    client, src_url, dst_url, _ = streams
    src, dst = parse_stream_url(src_url), parse_stream_url(dst_url)
    push(client, src.stream, frame, 40)
    client.xadd(src.stream, {"data": json.dumps({"f0": 1})})
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "keel.cli",
            "stream",
            registered,
            "--source",
            src_url,
            "--sink",
            dst_url,
            "--idle-exit",
            "1",
            "--json",
        ],
        env=keel_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    counts = json.loads(proc.stdout)
    assert counts["read"] == 41 and counts["written"] == 41 and counts["dead"] == 1
    assert client.xlen(dst.stream) == 40 and client.xlen(src.dead_stream) == 1
    logged = list((settings.home / "artifacts" / "predictions").rglob("*.parquet"))
    assert logged and "deployment=stream-churn" in str(logged[0])
