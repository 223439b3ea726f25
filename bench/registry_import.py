"""Moved to the benchmark harness (:mod:`netid.bench`, issue 7): this is now

    netid bench run --scenarios registry_import [--people N] [--backends sqlite,postgresql] ...

The child-process import lives in netid.bench.importer (``--import-people N``: N and N/4). Results go to ``bench/results/<date>-<scenario>.json`` and ``SUMMARY.md``; the earlier
``bench/results/registry_import.json`` stays as history.
"""

from __future__ import annotations

import sys

from netid.cli.bench import bench_app

if __name__ == "__main__":
    bench_app(["run", "--scenarios", "registry_import", *sys.argv[1:]])
