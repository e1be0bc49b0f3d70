"""Building DAGs: tracing, handles, parameters, cycles, drawing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import keel
from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.pipelines import Graph, Node, Ref, load_pipeline
from keel.pipelines._export import to_dot, to_mermaid, to_text


@keel.step
def load(n: int) -> list[int]:
    return list(range(n))


@keel.step
def split(xs: list[int]) -> tuple[list[int], list[int]]:
    return xs[::2], xs[1::2]


@keel.step
def combine(a: list[int], b: list[int], scale: float = 1.0) -> float:
    return (sum(a) - sum(b)) * scale


@keel.pipeline
def demo(n: int = 6, scale: float = 1.0) -> Any:
    evens, odds = split(load(n))
    return combine(evens, odds, scale=scale)


def test_step_outside_a_pipeline_is_the_plain_function() -> None:
    assert load(3) == [0, 1, 2]
    assert split.map([[1, 2], [3]]) == [([1], [2]), ([3], [])]


def test_tracing_builds_the_dag_with_references() -> None:
    graph = demo.build({"n": 4})
    assert list(graph.nodes) == ["load", "split", "combine"]
    combine_node = graph.nodes["combine"]
    assert combine_node.arguments["a"] == Ref("split", (0,))
    assert combine_node.arguments["scale"] == 1.0
    assert combine_node.deps == ("split",)
    assert graph.order() == ["load", "split", "combine"]
    assert graph.outputs == Ref("combine")


def test_fan_out_creates_one_node_per_item() -> None:
    @keel.pipeline
    def fanned() -> Any:
        pieces = load.map([1, 2, 3])
        return combine(pieces[0], pieces[2])

    graph = fanned.build()
    assert [n for n in graph.nodes if n.startswith("load[")] == ["load[0]", "load[1]", "load[2]"]
    assert graph.nodes["combine"].deps == ("load[0]", "load[2]")
    assert graph.levels() == [["load[0]", "load[1]", "load[2]"], ["combine"]]


def test_using_an_output_as_a_value_while_building_is_a_clear_error() -> None:
    @keel.pipeline
    def bad() -> Any:
        data = load(3)
        if data:  # the output does not exist yet
            return data
        return None

    with pytest.raises(TypeError, match="does not exist yet while the pipeline is being built"):
        bad.build()

    @keel.pipeline
    def unpack() -> Any:
        a, _b = load(3)  # load's arity is unknown
        return a

    with pytest.raises(TypeError, match="cannot unpack the output of step 'load'"):
        unpack.build()


def test_wrong_type_and_unknown_parameters_name_the_value() -> None:
    with pytest.raises(InvalidArgumentError, match=r"parameter 'n' expects int, got 'many'"):
        demo.build({"n": "many"})
    with pytest.raises(InvalidArgumentError, match=r"parameter 'scale' expects float, got 'x'"):
        demo.build(strings={"scale": "x"})
    with pytest.raises(InvalidArgumentError, match=r"no parameter 'scal'.*Did you mean 'scale'"):
        demo.build(strings={"scal": "2"})
    graph = demo.build(strings={"n": "8", "scale": "0.5"})
    assert graph.params == {"n": 8, "scale": 0.5}
    assert demo.build({"scale": 2}).params["scale"] == 2.0  # an int is a fine float


def test_params_from_a_yaml_file(tmp_path: Path) -> None:
    from keel.pipelines import load_params_file

    path = tmp_path / "params.yaml"
    path.write_text("n: 10\nscale: 1e-3\n")
    graph = demo.build(file_values=load_params_file(path), strings={"n": "12"})
    assert graph.params == {"n": 12, "scale": 0.001}  # the command line wins over the file
    path.write_text("- not a mapping\n")
    with pytest.raises(InvalidArgumentError, match="must hold a mapping"):
        load_params_file(path)


def test_a_pipeline_calling_itself_is_reported_as_a_cycle() -> None:
    @keel.pipeline
    def ping() -> Any:
        return pong()

    @keel.pipeline
    def pong() -> Any:
        return ping()

    with pytest.raises(InvalidArgumentError, match=r"calls itself \(ping -> pong -> ping\)"):
        ping.build()


def test_graph_cycle_and_dangling_reference_are_refused() -> None:
    graph = Graph("loop")
    graph.add(Node("a", load, {"n": Ref("c")}, ("c",)))
    graph.add(Node("b", load, {"n": Ref("a")}, ("a",)))
    graph.add(Node("c", load, {"n": Ref("b")}, ("b",)))
    with pytest.raises(InvalidArgumentError, match=r"has a cycle: a -> .* -> a"):
        graph.order()
    dangling = Graph("dangling")
    dangling.add(Node("a", load, {"n": Ref("ghost")}, ("ghost",)))
    with pytest.raises(InvalidArgumentError, match="'ghost', which is not a step"):
        dangling.order()


def test_nested_pipelines_are_inlined() -> None:
    @keel.pipeline
    def outer() -> Any:
        return combine(load(2), load(3))

    graph = outer.build()
    assert list(graph.nodes) == ["load", "load#2", "combine"]

    @keel.pipeline
    def inner(xs: list[int], scale: float = 2.0) -> Any:
        return combine(xs, xs, scale)

    @keel.pipeline
    def wrapper() -> Any:
        return inner(load(3))  # a step output handed to a typed nested pipeline

    assert wrapper.build().nodes["combine"].arguments["a"] == Ref("load")


def test_drawings_name_every_step_and_edge() -> None:
    graph = demo.build()
    text = "\n".join(to_text(graph))
    assert "load" in text and "└── split" in text and "combine" in text
    mermaid = to_mermaid(graph)
    assert mermaid.startswith("flowchart TD") and mermaid.count("-->") == 2
    assert '"load" -> "split";' in to_dot(graph)


def test_load_pipeline_from_a_file_and_bad_targets(tmp_path: Path) -> None:
    path = tmp_path / "flow.py"
    path.write_text(
        "import keel\n\n@keel.step\ndef one() -> int:\n    return 1\n\n"
        "@keel.pipeline\ndef flow():\n    return one()\n\nnot_a_pipeline = 3\n"
    )
    assert load_pipeline(f"{path}:flow").name == "flow"
    with pytest.raises(InvalidArgumentError, match="not a pipeline"):
        load_pipeline(f"{path}:not_a_pipeline")
    with pytest.raises(InvalidArgumentError, match="must look like"):
        load_pipeline("flow")
    with pytest.raises(NotFoundError, match="does not exist"):
        load_pipeline(f"{tmp_path / 'missing.py'}:flow")


def test_resources_are_validated() -> None:
    res = keel.Resources(cpus=2, memory="1.5GiB", gpus=1, custom={"TPU": 1})
    assert res.memory_bytes == int(1.5 * 1024**3)
    assert res.describe() == "cpus=2, memory=1.5GiB, gpus=1, TPU=1"
    with pytest.raises(InvalidArgumentError, match="'8 parsecs' is not a size"):
        keel.Resources(memory="8 parsecs")
    with pytest.raises(InvalidArgumentError, match="gpus must be a whole number"):
        keel.Resources(gpus=-1)


def test_public_surface_is_pinned() -> None:
    import keel.pipelines

    assert set(keel.pipelines.__all__) == {
        "CATCH_UP", "Scheduler", "add_schedule", "register_trigger",
        "Graph", "InProcessRunner", "Materializer", "Node", "ParamSpec", "Pipeline",
        "PipelineResult", "ProcessRunner", "Ref", "Resources", "Runner", "Step",
        "UnstorableOutputError", "dataset_version", "default_store", "explain_difference",
        "fingerprint", "hash_bytes", "load_params_file", "load_pipeline", "load_value",
        "make_runner", "parse_assignments", "pipeline", "register_materializer", "step",
        "store_value", "using_store", "next_cron", "to_dot", "to_mermaid", "to_text",
    }  # fmt: skip
    assert keel.step is keel.pipelines.step and keel.Resources is keel.pipelines.Resources
