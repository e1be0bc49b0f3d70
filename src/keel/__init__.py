"""keel: track experiments, version data, and change models often, with confidence.

The SDK in one screen::

    import keel

    keel.init(project="churn")
    with keel.start_run(experiment="baseline") as run:
        run.log_params({"model": "rf", "n_estimators": 200})
        run.log_metric("auc", 0.91)
        keel.log_dataset("customers", "data/customers.parquet", run=run)
    keel.search_runs("metrics.auc > 0.9", order_by="metrics.auc DESC")

Names are loaded on first use, so ``import keel`` (and the CLI) start fast.
"""

from __future__ import annotations

from keel._exports import lazy_exports

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # tracking
    "init": "keel.tracking",
    "start_run": "keel.tracking",
    "end_run": "keel.tracking",
    "active_run": "keel.tracking",
    "set_experiment": "keel.tracking",
    "log_param": "keel.tracking",
    "log_params": "keel.tracking",
    "log_metric": "keel.tracking",
    "log_metrics": "keel.tracking",
    "log_artifact": "keel.tracking",
    "set_tag": "keel.tracking",
    "get_run": "keel.tracking",
    "search_runs": "keel.tracking",
    "metric_history": "keel.tracking",
    "autolog": "keel.tracking",
    "get_client": "keel.tracking",
    "TrackingClient": "keel.tracking",
    "ActiveRun": "keel.tracking",
    # data
    "log_dataset": "keel._sdk",
    "get_dataset": "keel._sdk",
    "load_dataset": "keel._sdk",
    # models
    "log_model": "keel.models",
    "register_model": "keel.models",
    # pipelines
    "step": "keel.pipelines",
    "pipeline": "keel.pipelines",
    "Resources": "keel.pipelines",
    # tuning
    "sweep": "keel.tuning",
    "sweep_step": "keel.tuning",
    "report": "keel.tuning",
    # tuning: AutoML and the ROI estimate
    "automl": "keel.tuning",
    "roi": "keel.tuning",
    # configuration and values
    "Settings": "keel.config",
    "Metric": "keel.store",
    "RunStatus": "keel.store",
}

__all__ = sorted([*_EXPORTS, "__version__"])


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), __all__)
