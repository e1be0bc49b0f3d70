"""``python -m keel.pipelines._fire FIRE_ID``: run the pipeline of one claimed occurrence.

Started by the scheduler with ``KEEL_*`` settings in its environment; records the
outcome on the fire row (``finished`` or ``failed``, with the pipeline run id).
"""

from __future__ import annotations

import sys

from keel.config import Settings
from keel.exceptions import StepFailedError
from keel.store import open_store


def main(argv: list[str]) -> int:
    fire_id = int(argv[0])
    settings = Settings.from_env()
    store = open_store(settings)
    try:
        fire = store.schedules.get_fire(fire_id)
        schedule = store.schedules.get_by_id(fire.schedule_id)
        store.schedules.update_fire(fire_id, status="running")
        from keel.pipelines._loader import load_pipeline

        try:
            result = load_pipeline(schedule.target).run(
                strings=schedule.params,
                store=store,
                project=settings.project,
                runner=schedule.runner.get("runner"),
                workers=schedule.runner.get("workers"),
                address=schedule.runner.get("address"),
                target=schedule.target,
                tags={"keel.schedule": schedule.name, "keel.schedule.occurrence": fire.occurrence},
            )
        except StepFailedError as exc:
            run = getattr(exc, "result", None)
            store.schedules.update_fire(
                fire_id,
                status="failed",
                pipeline_run_id=run.run_id if run is not None else None,
                error=str(exc),
                ended=True,
            )
            return 1
        except Exception as exc:
            store.schedules.update_fire(
                fire_id, status="failed", error=f"{type(exc).__name__}: {exc}", ended=True
            )
            return 1
        store.schedules.update_fire(
            fire_id, status="finished", pipeline_run_id=result.run_id, ended=True
        )
        return 0
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
