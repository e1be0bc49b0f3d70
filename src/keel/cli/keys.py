"""``keel keys``: the Ed25519 signing key of this machine and the signers it trusts."""

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from keel.cli import _context
from keel.cli._options import JSON
from keel.cli._render import console, escape, outcome, print_json, print_table

if TYPE_CHECKING:
    from keel.models import Keyring

app = typer.Typer(
    help="Create the signing key; sign model files; trust other signers' public keys.",
    no_args_is_help=True,
)


def _keyring() -> "Keyring":
    from keel.models import Keyring

    return Keyring(_context.settings().home / "keys")


@app.command()
def generate(
    name: str = typer.Option("", "--name", help="Signer name shown to others (default user@host)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing key."),
    json_: bool = JSON,
) -> None:
    """Create this machine's Ed25519 signing key (private file mode 0600) and trust it."""
    keyring = _keyring()
    key = keyring.generate(name, overwrite=overwrite)
    if json_:
        print_json({"key_id": key.key_id, "name": key.name, "path": str(keyring.root)})
        return
    console().print(
        f"signing key [bold]{key.key_id}[/bold] ({escape(key.name)}) in {escape(str(keyring.root))}"
    )
    console().print("share the public key with `keel keys export > me.pub`")


@app.command("list")
def list_(json_: bool = JSON) -> None:
    """The signers this machine trusts."""
    keyring = _keyring()
    mine = keyring.public_key().key_id if keyring.has_signing_key() else None
    keys = keyring.trusted()
    if json_:
        print_json(
            [{"key_id": k.key_id, "name": k.name, "own": k.key_id == mine} for k in keys.values()]
        )
        return
    rows = [[k.key_id, k.name, "yes" if k.key_id == mine else ""] for k in keys.values()]
    print_table(
        "trusted signers",
        ["key id", "name", "this machine"],
        rows,
        empty="no trusted keys; run `keel keys generate`",
    )


@app.command()
def export() -> None:
    """Print this machine's public key (PEM) for others to trust."""
    typer.echo(_keyring().public_key().pem, nl=False)


@app.command()
def trust(
    public_key: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        readable=True,
        help="A PEM public key file from `keel keys export`.",
    ),
    name: str = typer.Option("", "--name", help="A name for this signer."),
) -> None:
    """Trust packages signed by this key."""
    from keel.models import parse_public_key

    key = _keyring().trust(parse_public_key(public_key.read_bytes(), name))
    console().print(f"trusting [bold]{key.key_id}[/bold] ({escape(key.name)})")


@app.command()
def untrust(key_id: str = typer.Argument(..., help="Key id from `keel keys list`.")) -> None:
    """Stop trusting a signer."""
    _keyring().untrust(key_id)
    console().print(f"no longer trusting {escape(key_id)}")


@app.command()
def sign(
    path: Path = typer.Argument(..., help="The model file to sign (ONNX, skops, ...)."),
    output: Path = typer.Option(
        None, "--output", "-o", help="Where to write the signature (default FILE.sig)."
    ),
    json_: bool = JSON,
) -> None:
    """Sign a model file you made: writes a detached signature (FILE.sig) to ship with it.

    `keel models import FILE` verifies it and records you as the model's author.
    """
    from keel.models import file_sha256, sign_file

    keyring = _keyring()
    target = sign_file(path, keyring, output)
    key = keyring.public_key()
    outcome(
        {
            "file": str(path),
            "sha256": file_sha256(path),
            "signature": str(target),
            "key_id": key.key_id,
            "signer": key.name,
        },
        json_,
        f"signed {escape(path.name)} with key [bold]{key.key_id}[/bold] ({escape(key.name)}): "
        f"{escape(str(target))}",
    )


@app.command()
def verify(
    path: Path = typer.Argument(..., help="The signed file."),
    signature: Path = typer.Option(
        None, "--signature", "-s", help="The detached signature (default FILE.sig)."
    ),
    json_: bool = JSON,
) -> None:
    """Check a file's detached signature; exit 0 only if it matches and its signer is trusted."""
    from keel.exceptions import NotFoundError, UntrustedModelError
    from keel.models import check_file_signature, file_sha256

    if not path.is_file():
        raise NotFoundError(f"no file at {str(path)!r}")
    sig = signature if signature is not None else path.with_name(path.name + ".sig")
    if not sig.is_file():
        raise NotFoundError(f"no signature file at {str(sig)!r}")
    found = check_file_signature(sig, file_sha256(path), _keyring(), file_name=path.name)
    if json_:
        print_json(
            {
                "file": str(path),
                "sha256": found.sha256,
                "key_id": found.key_id,
                "signer": found.signer,
                "trusted": found.trusted,
            }
        )
    if not found.trusted:
        raise UntrustedModelError(
            f"{path.name} is signed by key {found.key_id} ({found.signer}), which this machine "
            "does not trust; if you trust that signer, run `keel keys trust <their public key>`"
        )
    if not json_:
        console().print(
            f"{escape(path.name)}: signed by [bold]{found.key_id}[/bold] "
            f"({escape(found.signer)}), trusted"
        )
