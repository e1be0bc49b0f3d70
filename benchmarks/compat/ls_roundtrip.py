"""Run in Label Studio's own virtualenv (label-studio + label-studio-sdk), not keel's: a
project with keel's labeling config, keel's exported tasks imported with their
annotations, and Label Studio's own JSON export of them written to a file.

    python ls_roundtrip.py URL TOKEN CONFIG.xml TASKS.json OUT.json
"""

import json
import sys

from label_studio_sdk import LabelStudio

url, token, config_path, tasks_path, out_path = sys.argv[1:6]
client = LabelStudio(base_url=url, api_key=token)
with open(config_path, encoding="utf-8") as fh:
    config = fh.read()
with open(tasks_path, encoding="utf-8") as fh:
    tasks = json.load(fh)
for task in tasks:  # Label Studio assigns its own ids and users on import
    task.pop("id", None)
    for ann in task.get("annotations", []):
        for key in ("id", "completed_by", "task", "project"):
            ann.pop(key, None)
project = client.projects.create(title="keel round trip", label_config=config)
client.projects.import_tasks(id=project.id, request=tasks)
data = b"".join(
    client.projects.exports.download_sync(project.id, export_type="JSON", download_all_tasks=True)
)
with open(out_path, "wb") as fh:
    fh.write(data)
print(len(json.loads(data)))
