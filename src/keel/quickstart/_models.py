"""Tour steps for models: package, sign and register the best run's model; promote it."""

from __future__ import annotations

from keel.quickstart._context import TourContext

MODEL_NAME = "breast-cancer-classifier"


def register_best(ctx: TourContext) -> None:
    """Package the best candidate (signed, with its ONNX twin when parity holds) and register it."""
    from keel.models import Keyring, log_model
    from keel.tracking import ActiveRun

    keyring = Keyring(ctx.settings.home / "keys")
    if not keyring.has_signing_key():
        key = keyring.generate("quickstart")
        ctx.say(f"Created a signing key [bold]{key.key_id}[/bold] in {keyring.root}")
    best = ctx.results["best_run"]
    model = ctx.results["models"][best.id]
    run = ActiveRun(ctx.client, best.info)
    info = log_model(
        model,
        "model",
        input_example=ctx.results["X_train"].head(50),
        registered_model_name=MODEL_NAME,
        run=run,
        keyring=keyring,
        sign=True,
        card={
            "intended_use": "Demonstration of keel; not for medical decisions.",
            "data": f"{ctx.results['dataset'].ref} (scikit-learn breast cancer)",
            "limitations": "569 rows from one hospital; no validation on other populations.",
        },
    )
    version = info.version
    assert version is not None
    ctx.results["model_version"] = version
    parity = info.manifest.flavors.get("onnx", {}).get("parity")
    onnx_note = (
        f"ONNX twin max |diff| {parity['max_abs_diff']:.2e} "
        f"({'served' if parity['ok'] else 'not served'})"
        if parity
        else "no ONNX twin"
    )
    ctx.say(
        f"Registered [bold]{version.ref}[/bold] ({version.flavor}, "
        f"{len(info.manifest.files)} files, "
        f"signed by {version.signer}); {onnx_note}"
    )


def promote_champion(ctx: TourContext) -> None:
    """Promote the version to ``champion``, load it back verified, and check parity."""
    import numpy as np

    from keel.models import Registry, load

    version = ctx.results["model_version"]
    registry = Registry(ctx.client.store, ctx.client.project.name)
    registry.promote(version.ref, "champion")
    predictor = load(f"models:/{MODEL_NAME}@champion", store=ctx.client.store, trust="strict")
    X_test = ctx.results["X_test"]
    trained = ctx.results["models"][ctx.results["best_run"].id]
    same = int(np.sum(np.asarray(predictor.predict(X_test)) == trained.predict(X_test)))
    ctx.say(
        f"[bold green]{MODEL_NAME}@champion[/bold green] -> version {version.version}; loaded with "
        f"signature and hash checks (trust=strict), served by {predictor.flavor}: "
        f"{same}/{len(X_test)} test predictions identical to the training-time model"
    )
