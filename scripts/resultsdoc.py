"""Writing one section of docs/results.md without touching the others.

Each results script owns a section delimited by ``<!-- BEGIN <name> -->`` and
``<!-- END <name> -->`` and rewrites only that, so scripts can be rerun independently.
"""

from __future__ import annotations

import platform
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results.md"
HEADER = """# Results

Every table and plot here is written by a committed script under `scripts/`, with the exact
command, seeds and budget next to it. Intervals are 95 %: Wilson intervals for win rates,
Student-t intervals over seeds or runs for returns. Only the sections marked "interpretation"
are written by hand, from the numbers of the generated ones.
"""


def machine() -> str:
    """One line describing the machine a result was measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        model = next(line.split(":", 1)[1].strip() for line in lines
                     if line.startswith("model name"))
        cpu = model
    except (OSError, StopIteration):
        pass
    import os

    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def relative(path: Path) -> Path:
    """``path`` relative to the repository where it lies inside it (no machine paths)."""
    resolved = path.resolve()
    return resolved.relative_to(ROOT) if resolved.is_relative_to(ROOT) else path


def newest_snapshot(run: Path, flag: str) -> Path:
    """The newest ``v*.safetensors`` of a run directory (under its ``lineage/``) or of a lineage
    folder itself; ``flag`` names the option in the error."""
    snapshots = sorted(run.glob("lineage/*/v*.safetensors")) or sorted(run.glob("v*.safetensors"))
    if not snapshots:
        raise SystemExit(f"{flag} {run}: no snapshots (v*.safetensors) in it or its lineage/")
    return snapshots[-1]


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def episode_errorbars(ax, results, spread: float) -> None:
    """One line per method of its mean return per episode of a chain, with 95 % t-intervals over
    the chains (``results``: name -> returns ``[..., episodes]``), offset by up to ``spread``."""
    import numpy as np

    for offset, (name, r) in zip(np.linspace(-spread, spread, len(results)), results.items(),
                                 strict=True):
        flat = r.reshape(-1, r.shape[-1])
        stats = [mean_ci(flat[:, e]) for e in range(flat.shape[1])]
        ax.errorbar(np.arange(1, flat.shape[1] + 1) + offset, [m for m, _ in stats],
                    yerr=[h for _, h in stats], marker="o", ms=3, capsize=2, label=name)
    ax.set_xlabel("episode (torque scale of the damaged pair falls 1 -> 0)")
    ax.set_ylabel("episode return")


def save_figure(fig, path: Path, dpi: int = 100) -> Path:
    """Lay out a matplotlib figure and write it (creating its folder); return the path."""
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


def write_section(name: str, body: str) -> Path:
    """Replace (or append) the section ``name`` of docs/results.md with ``body``."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    text = RESULTS.read_text() if RESULTS.exists() else HEADER
    block = f"<!-- BEGIN {name} -->\n{body.rstrip()}\n<!-- END {name} -->"
    pattern = re.compile(rf"<!-- BEGIN {re.escape(name)} -->.*?<!-- END {re.escape(name)} -->",
                         re.DOTALL)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else (
        text.rstrip() + "\n\n" + block + "\n")
    RESULTS.write_text(text)
    return RESULTS


def mean_ci(values) -> tuple[float, float]:
    """Mean and half-width of the 95 % Student-t interval over independent runs."""
    import numpy as np

    x = np.asarray(values, dtype=float)
    n = len(x)
    if n < 2:
        return float(x.mean()), float("nan")
    # two-sided 97.5 % quantiles of Student's t for small n (df = n - 1)
    df = n - 1
    t = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
         9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131,
         16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086, 21: 2.080, 22: 2.074,
         23: 2.069, 24: 2.064, 25: 2.060, 26: 2.056, 27: 2.052, 28: 2.048, 29: 2.045,
         30: 2.042}.get(df, 1.96 + 2.4 / df)  # beyond 30: within 0.002 of the quantile
    return float(x.mean()), float(t * x.std(ddof=1) / np.sqrt(n))


ADAPTATION_JSON = ROOT / "docs" / "results" / "adaptation.json"
ENTRY_KEY = ("domain", "method", "comparison", "window")


def update_entries(entries: list[dict], path: Path = ADAPTATION_JSON) -> Path:
    """Put ``entries`` into the JSON list at ``path``, replacing those with the same
    (domain, method, comparison, window); the others (of other scripts) are kept."""
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(path.read_text()) if path.exists() else []
    new_keys = {tuple(e[k] for k in ENTRY_KEY) for e in entries}
    kept = [e for e in old if tuple(e.get(k) for k in ENTRY_KEY) not in new_keys]
    path.write_text(json.dumps(kept + entries, indent=1) + "\n")
    return path
