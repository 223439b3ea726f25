"""The benchmark harness (issue 7 §1): ``netid bench run | smoke | summary``.

It builds (and caches) a registry of generated people with demo-like institutions, starts
``netid serve`` with the production settings, drives it over loopback from a separate
load-generator process (wrk with a Lua script, or a Python load generator for multi-step
flows), and writes one JSON file per day and scenario plus a Markdown summary against the
targets (:mod:`netid.bench.targets`). It talks to the server over HTTP only and never imports
``netid.web``: the server it measures is the one operators run.
"""
