"""Moved to the benchmark harness (:mod:`netid.bench`, issue 7): this is now

    netid bench run --scenarios hello,rsgi_hello,id2 [--people N] [--backends sqlite,postgresql] ...

The cached registry, the bench bank, wrk and the access-record check live in
netid.bench.population, netid.bench.measure and netid.bench.scenarios. Results go to ``bench/results/<date>-<scenario>.json`` and ``SUMMARY.md``; the earlier
``bench/results/verification_http.json`` stays as history.
"""

from __future__ import annotations

import sys

from netid.cli.bench import bench_app

if __name__ == "__main__":
    bench_app(["run", "--scenarios", "hello,rsgi_hello,id2", *sys.argv[1:]])
