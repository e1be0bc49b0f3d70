"""The public surface of keel.serving is deliberate: this list changes only on purpose."""

from __future__ import annotations

import keel.serving


def test_serving_surface_is_pinned() -> None:
    assert set(keel.serving.__all__) == {
        "BatchJob", "BatchSettings", "DeploymentRuntime", "DeploymentSpec", "InMemorySource",
        "InputSchema",
        "LoadedModel", "ModelRef", "ModelSource", "PredictionLog", "Predictor", "RegistrySource",
        "ServerHandle", "ServingMetrics", "build_app", "check_resources", "create_app",
        "load_spec", "log_root", "parse_model_ref", "predict_frame", "prepare_batch", "run_stream",
        "serve", "spec_for_refs", "start_in_thread",
        # deployment use cases (keel deploy, keel serve)
        "resolve_spec",
        "apply_spec", "delete_deployment", "deployment_history", "deployment_summary",
        "export_deployment", "get_spec", "launch", "list_deployments", "rollback_deployment",
    }  # fmt: skip
    for name in keel.serving.__all__:
        assert getattr(keel.serving, name) is not None, name
