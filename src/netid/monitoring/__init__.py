"""Anomaly detection and automatic freezing (issue 4 §3): per-industry rules over counters
(the database or Redis), the watch list, alerts, and the freeze of an institution that trips a
freezing rule, decided before the query is answered."""
