"""Which of MLflow's REST tests keel fails on purpose, and why (README.md explains each)."""

from __future__ import annotations

_PROXY_BOUNDARY = (
    "mlflow-artifacts PUT outside <experiment>/<run>/artifacts/ is refused (security boundary)"
)
_LAYOUT = "reads MLflow's on-disk artifact layout; keel keeps content-addressed blobs"
_FILE_ROOT = "expects a file:// artifact root; keel's runs use mlflow-artifacts:/"
_UI = "MLflow web UI endpoint (/get-artifact, /ajax-api, /graphql), not the REST API"

#: test function name -> the reason keel fails it on purpose.
KNOWN_FAILURES: dict[str, str] = {
    "test_mlflow_artifacts_rest_apis": _PROXY_BOUNDARY,
    "test_mime_type_for_download_artifacts_api": _PROXY_BOUNDARY,
    "test_server_overrides_requested_mime_type": _PROXY_BOUNDARY,
    "test_log_artifact": _LAYOUT,
    "test_artifacts": _FILE_ROOT,
    "test_logging_model_with_local_artifact_uri": _FILE_ROOT,
    "test_create_model_version_with_file_uri": (
        "local paths / file:// as a version source are refused (the server never reads a "
        "path a client names)"
    ),
    "test_create_model_version_with_path_source": (
        "local paths / file:// as a version source are refused (the server never reads a "
        "path a client names)"
    ),
    "test_create_get_search_experiment": (
        "a relative artifact_location is kept as given, not resolved against the server's "
        "working directory (it is metadata only)"
    ),
    "test_rest_get_artifact_api_log_image": _UI,
    "test_rest_get_artifact_api_proxied_with_artifacts": _UI,
    "test_rest_get_model_version_artifact_api_proxied_artifact_root": _UI,
    "test_path_validation": _UI,
}
