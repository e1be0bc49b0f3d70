"""The ``alert`` trigger of pipeline schedules: retrain when a deployment raises an alert.

``keel schedule add retrain --target train.py:pipeline --on alert:churn/drift`` runs the
pipeline once per newly opened alert of kind ``drift`` on deployment ``churn``. Refs:
``<deployment>`` (any kind), ``<deployment>/<kind>``, or ``<deployment>-<kind>`` when the
suffix is an alert kind. The scheduler finds this probe through the ``keel.trigger_probes``
entry point; the state it compares is the id of the newest matching alert (repeats of a
live alert keep its id, so they do not fire again).
"""

from __future__ import annotations

from keel.monitoring._findings import ALERT_KINDS
from keel.store import Store


def parse_alert_ref(ref: str) -> tuple[str, str | None]:
    """``churn/drift`` -> (``churn``, ``drift``); ``churn`` -> (``churn``, None)."""
    ref = ref.strip()
    if "/" in ref:
        deployment, _, kind = ref.partition("/")
        return deployment, kind or None
    for kind in sorted(ALERT_KINDS, key=len, reverse=True):
        suffix = "-" + kind.replace("_", "-")
        if ref.endswith(suffix) and len(ref) > len(suffix):
            return ref[: -len(suffix)], kind
    return ref, None


def alert_probe(store: Store, project_id: int, ref: str) -> str | None:
    """The newest alert id matching ``ref`` (None while there is none)."""
    deployment, kind = parse_alert_ref(ref)
    latest = store.alerts.latest_id(project_id, deployment=deployment, kind=kind)
    return None if latest is None else str(latest)
