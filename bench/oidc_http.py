"""Moved to the benchmark harness (:mod:`netid.bench`, issue 7): this is now

    netid bench run --scenarios hello,rsgi_hello,oidc [--people N] [--backends sqlite,postgresql] ...

The browsers and the Python load generator live in netid.bench.oidc_load. Results go to ``bench/results/<date>-<scenario>.json`` and ``SUMMARY.md``; the earlier
``bench/results/oidc_http.json`` stays as history.
"""

from __future__ import annotations

import sys

from netid.cli.bench import bench_app

if __name__ == "__main__":
    bench_app(["run", "--scenarios", "hello,rsgi_hello,oidc", *sys.argv[1:]])
