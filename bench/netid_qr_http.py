"""Moved to the benchmark harness (:mod:`netid.bench`, issue 7): this is now

    netid bench run --scenarios hello,rsgi_hello,netid_qr [--people N] [--backends sqlite,postgresql] ...

Enrolment through the public API and the QR tokens live in netid.bench.wallets. Results go to ``bench/results/<date>-<scenario>.json`` and ``SUMMARY.md``; the earlier
``bench/results/netid_qr_http.json`` stays as history.
"""

from __future__ import annotations

import sys

from netid.cli.bench import bench_app

if __name__ == "__main__":
    bench_app(["run", "--scenarios", "hello,rsgi_hello,netid_qr", *sys.argv[1:]])
