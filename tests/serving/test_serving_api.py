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
    }  # fmt: skip
    for name in keel.serving.__all__:
        assert getattr(keel.serving, name) is not None, name


def test_the_private_module_contract_lists_every_private_module() -> None:
    """The import contract names modules one by one (import-linter has no ``_*``): a new
    private module of serving or monitoring must join it."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).parents[2]
    contracts = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["importlinter"]
    forbidden = next(
        set(c["forbidden_modules"])
        for c in contracts["contracts"]
        if c["name"].startswith("the CLI and the server call serving and monitoring")
    )
    private = {
        f"keel.{pkg}.{p.stem}"
        for pkg in ("serving", "monitoring")
        for p in (root / "src" / "keel" / pkg).glob("_*.py")
        if p.name != "__init__.py"
    }
    assert private == forbidden
