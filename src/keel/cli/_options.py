"""Options several command modules take, declared once (their help text is part of the CLI)."""

import typer

JSON = typer.Option(False, "--json", help="Print JSON for scripts.")
TRUST = typer.Option(
    None, "--trust", help="Signature policy: strict | warn | off (default: KEEL_MODEL_TRUST)."
)
