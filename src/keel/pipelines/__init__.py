"""Pipelines: training as cached DAGs of plain Python steps.

``@keel.step`` marks a function as a step, ``@keel.pipeline`` a function that calls steps.
Calling the pipeline builds its DAG, skips every step whose code, inputs and packages are
unchanged (the step cache), runs the rest on a runner (in-process, local processes or
Dask) and records the run and each step as tracking runs.
"""

from __future__ import annotations

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
