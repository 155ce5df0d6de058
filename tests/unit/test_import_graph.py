"""The import rules hold (tools/import_graph.py): no cycles, app/ never imports workers/, domain/
does no I/O, the simulators import neither app/ nor launcher/."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_graph_has_no_cycle_and_breaks_no_layering_rule():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "import_graph.py")], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 cycles, 0 violations" in result.stdout
