"""Serving: online prediction for many models and versions, batch and streaming prediction,
and the prediction log.

::

    from keel.serving import load_spec, serve
    serve(load_spec("deploy.yaml"), settings)          # what `keel serve -f deploy.yaml` does

    from keel.serving import InMemorySource, build_app, spec_for_refs, start_in_thread
    source = InMemorySource()
    source.add("churn", 1, model, schema=frame.head(), aliases=("champion",))
    handle = start_in_thread(build_app(spec_for_refs(["churn@champion"]), settings, source=source))

Importing this package is cheap; FastAPI, uvicorn, pandas and pyarrow load on first use.
"""

from __future__ import annotations

from keel._exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "BatchJob": "keel.serving._jobs",
    "BatchSettings": "keel.serving._batcher",
    "DeploymentRuntime": "keel.serving._runtime",
    "DeploymentSpec": "keel.serving._spec",
    "InMemorySource": "keel.serving._source",
    "InputSchema": "keel.serving._schema",
    "LoadedModel": "keel.serving._source",
    "ModelRef": "keel.models._uri",
    "ModelSource": "keel.serving._source",
    "PredictionLog": "keel.store.predlog",
    "Predictor": "keel.serving._source",
    "RegistrySource": "keel.serving._source",
    "ServerHandle": "keel.serving._server",
    "ServingMetrics": "keel.serving._metrics",
    "apply_spec": "keel.serving._deploy",
    "build_app": "keel.serving._server",
    "check_resources": "keel.serving._spec",
    "create_app": "keel.serving._app",
    "delete_deployment": "keel.serving._deploy:delete",
    "deployment_history": "keel.serving._deploy:history",
    "deployment_summary": "keel.serving._deploy:summary",
    "export_deployment": "keel.serving._export",
    "get_spec": "keel.serving._deploy",
    "launch": "keel.serving._launch",
    "list_deployments": "keel.serving._deploy",
    "load_spec": "keel.serving._spec",
    "log_root": "keel.store.predlog",
    "parse_model_ref": "keel.models._uri",
    "predict_frame": "keel.serving._predict",
    "prepare_batch": "keel.serving._jobs",
    "resolve_spec": "keel.serving._launch",
    "rollback_deployment": "keel.serving._deploy:rollback",
    "run_stream": "keel.serving._jobs",
    "serve": "keel.serving._server",
    "spec_for_refs": "keel.serving._spec",
    "start_in_thread": "keel.serving._server",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), __all__)
