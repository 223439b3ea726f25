"""Moved to the benchmark harness (:mod:`netid.bench`, issue 7): this is now

    netid bench run --scenarios hello,inclusion_proof,audit_verify [--people N] [--backends sqlite,postgresql] ...

The bulk log build lives in netid.bench.logbuild; the log has as many entries as the
population has people (``--people``). Results go to ``bench/results/<date>-<scenario>.json`` and ``SUMMARY.md``; the earlier
``bench/results/log.json`` stays as history.
"""

from __future__ import annotations

import sys

from netid.cli.bench import bench_app

if __name__ == "__main__":
    bench_app(["run", "--scenarios", "hello,inclusion_proof,audit_verify", *sys.argv[1:]])
