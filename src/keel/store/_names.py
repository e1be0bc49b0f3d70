"""Readable random run names such as ``brave-otter-42``."""

from __future__ import annotations

_ADJ = (
    "able amber bold brave bright calm clever cosmic crisp daring eager fancy gentle glad "
    "golden grand happy honest jolly keen kind lively lucky merry mighty nimble noble proud "
    "quick quiet rapid rare silent smart snappy solid steady sunny swift tidy vast witty"
).split()
_NOUN = (
    "ant badger bass bear bee bison cat colt crane deer dove eagle elk falcon finch fox gecko "
    "goat hare hawk heron ibis koala lark lemur lion lynx mole moth newt otter owl panda "
    "puma quail raven robin seal shark sloth swan tiger trout whale wolf wren yak zebra"
).split()


def random_run_name() -> str:
    import random  # here: a command that only reads runs does not name one

    rng = random.SystemRandom()
    return f"{rng.choice(_ADJ)}-{rng.choice(_NOUN)}-{rng.randint(1, 999)}"
