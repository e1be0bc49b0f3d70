"""Dataset versions: files, folders and tables as named, immutable, profiled versions.

::

    from keel.data import DatasetClient, SqlQuery

    datasets = DatasetClient(store, project)
    v1 = datasets.log("customers", "data/customers.parquet")
    v2 = datasets.log("customers", SqlQuery("postgresql+psycopg://reader@db/prod",
                                            "SELECT * FROM customers"))
    datasets.diff("customers@1", "customers@2")   # schema and statistics that changed
    datasets.status("images", "data/images/")     # incremental re-hash of a folder

Names load on first use: importing this package (or its light modules, as ``keel datasets
status`` does) imports neither the metadata store nor pandas or pyarrow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keel._exports import lazy_exports

if TYPE_CHECKING:
    from keel.data._client import DatasetClient
    from keel.data._diff import DatasetDiff, DiffThresholds, Retyped, StatChange
    from keel.data._explore import Exploration, explore
    from keel.data._files import FolderStatus, ProgressFn, file_hashes, manifest_hash
    from keel.data._hashstate import RACY_WINDOW_NS, HashState
    from keel.data._pit import FeatureTable, TrainingSet, training_set
    from keel.data._pit_predlog import PredictionFeatures
    from keel.data._quick import quick_status
    from keel.data._refs import DatasetRef, parse_ref
    from keel.data._sql import SqlQuery
    from keel.data._synth_api import (
        PrivacyGateError,
        SyntheticData,
        SynthModel,
        synth_fit,
        synth_sample,
    )
    from keel.data._synth_report import PrivacyGate

_EXPORTS: dict[str, str] = {
    "DatasetClient": "keel.data._client",
    "DatasetDiff": "keel.data._diff",
    "DiffThresholds": "keel.data._diff",
    "Retyped": "keel.data._diff",
    "StatChange": "keel.data._diff",
    "FolderStatus": "keel.data._files",
    "ProgressFn": "keel.data._files",
    "file_hashes": "keel.data._files",
    "manifest_hash": "keel.data._files",
    "RACY_WINDOW_NS": "keel.data._hashstate",
    "HashState": "keel.data._hashstate",
    "quick_status": "keel.data._quick",
    "DatasetRef": "keel.data._refs",
    "parse_ref": "keel.data._refs",
    "SqlQuery": "keel.data._sql",
    "Exploration": "keel.data._explore",
    "explore": "keel.data._explore",
    "FeatureTable": "keel.data._pit",
    "TrainingSet": "keel.data._pit",
    "training_set": "keel.data._pit",
    "PredictionFeatures": "keel.data._pit_predlog",
    "PrivacyGate": "keel.data._synth_report",
    "PrivacyGateError": "keel.data._synth_api",
    "SynthModel": "keel.data._synth_api",
    "SyntheticData": "keel.data._synth_api",
    "synth_fit": "keel.data._synth_api",
    "synth_sample": "keel.data._synth_api",
}

__all__ = [
    "RACY_WINDOW_NS",
    "DatasetClient",
    "DatasetDiff",
    "DatasetRef",
    "DiffThresholds",
    "Exploration",
    "FeatureTable",
    "FolderStatus",
    "HashState",
    "PredictionFeatures",
    "PrivacyGate",
    "PrivacyGateError",
    "ProgressFn",
    "Retyped",
    "SqlQuery",
    "StatChange",
    "SynthModel",
    "SyntheticData",
    "TrainingSet",
    "explore",
    "file_hashes",
    "manifest_hash",
    "parse_ref",
    "quick_status",
    "synth_fit",
    "synth_sample",
    "training_set",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), __all__)
