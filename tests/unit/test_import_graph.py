"""The import rules hold (tests/tools/import_graph.py): no cycles, app/ never imports workers/, domain/
does no I/O, the simulators import neither app/ nor sim/launcher/."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_tool():
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "tests" / "tools" / "import_graph.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_import_graph_has_no_cycle_and_breaks_no_layering_rule():
    tool = load_tool()
    graph, raw = tool.build_graph()
    assert len(graph) > 100  # it really read the packages
    assert tool.cycles(graph) == []
    assert tool.violations(raw) == []


def test_the_rules_catch_what_they_forbid():
    tool = load_tool()
    raw = {
        "app.cli.dispatch": {"workers.pipeline"},
        "app.domain.triage": {"requests"},
        "sim.zendesk.state": {"app.settings"},
    }
    assert len(tool.violations(raw)) == 3
    assert tool.cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
