"""Pipelines: training as cached DAGs of plain Python steps.

``@keel.step`` marks a function as a step, ``@keel.pipeline`` a function that calls steps.
Calling the pipeline builds its DAG, skips every step whose code, inputs and packages are
unchanged (the step cache), runs the rest on a runner (in-process, local processes or
Dask) and records the run and each step as tracking runs.

Names load on first use: ``keel schedule list`` reads schedules without the executor
(and the tracking machinery it imports).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keel._exports import lazy_exports

if TYPE_CHECKING:
    from keel.pipelines._executor import explain_difference
    from keel.pipelines._export import to_dot, to_mermaid, to_text
    from keel.pipelines._fingerprint import fingerprint, hash_bytes
    from keel.pipelines._graph import Graph, Node, Ref
    from keel.pipelines._loader import load_pipeline
    from keel.pipelines._materialize import (
        Materializer,
        UnstorableOutputError,
        load_value,
        register_materializer,
        store_value,
    )
    from keel.pipelines._params import ParamSpec, load_params_file, parse_assignments
    from keel.pipelines._pipeline import (
        Pipeline,
        PipelineResult,
        dataset_version,
        default_store,
        pipeline,
        using_store,
    )
    from keel.pipelines._resources import Resources
    from keel.pipelines._runner_api import Runner
    from keel.pipelines._runners import InProcessRunner, ProcessRunner, make_runner
    from keel.pipelines._schedule import CATCH_UP, add_schedule, next_cron, register_trigger
    from keel.pipelines._scheduler import Scheduler
    from keel.pipelines._step import Step, step

_EXPORTS = {
    "CATCH_UP": "keel.pipelines._schedule",
    "Graph": "keel.pipelines._graph",
    "InProcessRunner": "keel.pipelines._runners",
    "Materializer": "keel.pipelines._materialize",
    "Node": "keel.pipelines._graph",
    "ParamSpec": "keel.pipelines._params",
    "Pipeline": "keel.pipelines._pipeline",
    "PipelineResult": "keel.pipelines._pipeline",
    "ProcessRunner": "keel.pipelines._runners",
    "Ref": "keel.pipelines._graph",
    "Resources": "keel.pipelines._resources",
    "Runner": "keel.pipelines._runner_api",
    "Scheduler": "keel.pipelines._scheduler",
    "Step": "keel.pipelines._step",
    "UnstorableOutputError": "keel.pipelines._materialize",
    "add_schedule": "keel.pipelines._schedule",
    "dataset_version": "keel.pipelines._pipeline",
    "default_store": "keel.pipelines._pipeline",
    "explain_difference": "keel.pipelines._executor",
    "fingerprint": "keel.pipelines._fingerprint",
    "hash_bytes": "keel.pipelines._fingerprint",
    "load_params_file": "keel.pipelines._params",
    "load_pipeline": "keel.pipelines._loader",
    "load_value": "keel.pipelines._materialize",
    "make_runner": "keel.pipelines._runners",
    "next_cron": "keel.pipelines._schedule",
    "parse_assignments": "keel.pipelines._params",
    "pipeline": "keel.pipelines._pipeline",
    "register_materializer": "keel.pipelines._materialize",
    "register_trigger": "keel.pipelines._schedule",
    "step": "keel.pipelines._step",
    "store_value": "keel.pipelines._materialize",
    "to_dot": "keel.pipelines._export",
    "to_mermaid": "keel.pipelines._export",
    "to_text": "keel.pipelines._export",
    "using_store": "keel.pipelines._pipeline",
}

__all__ = [
    "CATCH_UP",
    "Graph",
    "InProcessRunner",
    "Materializer",
    "Node",
    "ParamSpec",
    "Pipeline",
    "PipelineResult",
    "ProcessRunner",
    "Ref",
    "Resources",
    "Runner",
    "Scheduler",
    "Step",
    "UnstorableOutputError",
    "add_schedule",
    "dataset_version",
    "default_store",
    "explain_difference",
    "fingerprint",
    "hash_bytes",
    "load_params_file",
    "load_pipeline",
    "load_value",
    "make_runner",
    "next_cron",
    "parse_assignments",
    "pipeline",
    "register_materializer",
    "register_trigger",
    "step",
    "store_value",
    "to_dot",
    "to_mermaid",
    "to_text",
    "using_store",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), __all__)
