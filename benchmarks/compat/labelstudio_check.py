"""keel's Label Studio export checked by the real ``label-studio-sdk`` (in its own venv).

For each label config kind keel writes a project's Label Studio JSON export and labeling
config XML; the peer interpreter then validates every annotation with the SDK's
``LabelInterface.validate_annotation`` and converts the export with its ``Converter``
(``JSON_MIN``), as a team moving from keel to Label Studio would.

    python benchmarks/compat/labelstudio_check.py [--python /tmp/peer-ls/bin/python]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "src"))
sys.path.insert(0, str(HERE.parent.parent))

CASES = {
    "classification": ({"kind": "classification", "labels": ["neg", "pos"]},
                       {"text": "fine"}, {"label": "pos"}),
    "multilabel": ({"kind": "multilabel", "labels": ["a", "b", "c"]},
                   {"text": "both"}, {"labels": ["a", "c"]}),
    "spans": ({"kind": "spans", "labels": ["PER", "ORG"]}, {"text": "Ada works at ACME"},
              {"spans": [{"start": 0, "end": 3, "label": "PER"},
                         {"start": 13, "end": 17, "label": "ORG"}]}),
    "boxes": ({"kind": "boxes", "labels": ["car"]},
              {"image": "/data/a.png", "width": 200, "height": 100},
              {"boxes": [{"x": 20, "y": 10, "width": 50, "height": 40, "label": "car"}]}),
    "text": ({"kind": "text"}, {"text": "say something"}, {"text": "hello"}),
}  # fmt: skip

PEER = r"""
import json, sys, tempfile, os
from label_studio_sdk.label_interface import LabelInterface
from label_studio_sdk.converter import Converter
folder = sys.argv[1]
for kind in json.load(open(os.path.join(folder, "kinds.json"))):
    xml = open(os.path.join(folder, kind + ".xml")).read()
    tasks = json.load(open(os.path.join(folder, kind + ".json")))
    li = LabelInterface(xml)
    ok = all(li.validate_annotation(a) for t in tasks for a in t["annotations"])
    out = tempfile.mkdtemp()
    Converter(xml, out, download_resources=False).convert_to_json_min(
        os.path.join(folder, kind + ".json"), out, is_dir=False)
    rows = json.load(open(os.path.join(out, "result.json")))
    print(json.dumps({"kind": kind, "valid": ok, "rows": len(rows), "first": rows[0]}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", help="the peer interpreter (default: a venv made here)")
    args = parser.parse_args()
    from keel import labeling
    from keel.config import Settings
    from keel.store import open_store
    from keel.store.labeling import NewTask

    python = args.python
    if python is None:
        from benchmarks._peers import peer_python

        python = str(peer_python("labelstudio", ["label-studio-sdk>=2.0"]))
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Settings.for_home(Path(tmp) / "home"))
        pid = store.projects.get_or_create("default").id
        for kind, (config, data, answer) in CASES.items():
            labeling.create_project(store, pid, kind, config, overlap=2)
            [task_id] = store.labeling.add_tasks(pid, kind, [NewTask(data)])
            for who in ("ann", "bob"):
                labeling.submit(store, pid, kind, task_id, who, answer)
            exported = labeling.export_labelstudio(store, pid, kind)
            (Path(tmp) / f"{kind}.json").write_text(json.dumps(exported))
            xml = labeling.config_xml(labeling.parse_config(config))
            (Path(tmp) / f"{kind}.xml").write_text(xml)
        (Path(tmp) / "kinds.json").write_text(json.dumps(list(CASES)))
        store.close()
        out = subprocess.run([python, "-c", PEER, tmp], capture_output=True, text=True, check=False)
    if out.returncode:
        sys.exit(f"label-studio-sdk refused keel's export:\n{out.stderr[-3000:]}")
    for line in out.stdout.splitlines():
        found = json.loads(line)
        mark = "ok" if found["valid"] and found["rows"] == 2 else "FAILED"
        print(f"{found['kind']:15s} {mark} (valid={found['valid']}, rows={found['rows']}): "
              f"{json.dumps(found['first'])[:150]}")  # fmt: skip


if __name__ == "__main__":
    main()
