from __future__ import annotations

import pytest

from keel.exceptions import UnsafePathError
from keel.store.paths import safe_relpath


@pytest.mark.parametrize(
    "bad",
    [
        "../secret",
        "a/../../b",
        "/etc/passwd",
        "C:/windows",
        "a\\..\\b",
        "a\x00b",
        "~/x",
        "%2e%2e/secret",
        "%2e%2e%2fsecret",
        "%252e%252e%252fsecret",
        "..",
        ".",
        "",
        "a/\nb",
    ],
)
def test_unsafe_paths_are_refused(bad: str) -> None:
    with pytest.raises(UnsafePathError):
        safe_relpath(bad)


@pytest.mark.parametrize(
    ("path", "clean"),
    [
        ("model/model.pkl", "model/model.pkl"),
        ("a/./b", "a/b"),
        ("a//b/", "a/b"),
        ("plots/roc curve.png", "plots/roc curve.png"),
    ],
)
def test_safe_paths_are_normalised(path: str, clean: str) -> None:
    assert safe_relpath(path) == clean
