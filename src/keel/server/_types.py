"""Bounded request field types shared by the routers, so no value reaches the database
that it cannot hold (an out-of-range integer would otherwise surface as a 500)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
Id = Annotated[int, Field(ge=0, le=2**31 - 1)]
Millis = Annotated[int, Field(ge=0, le=2**53)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Key = Annotated[str, StringConstraints(min_length=1, max_length=250)]
Text = Annotated[str, StringConstraints(max_length=65535)]
RunId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
#: A string the repository validates itself (its messages name the value); capped only so
#: that nobody can post gigabytes.
Loose = Annotated[str, StringConstraints(max_length=1 << 20)]
Sha = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]

__all__ = ["Id", "Int64", "Key", "Loose", "Millis", "Name", "RunId", "Sha", "Text"]
