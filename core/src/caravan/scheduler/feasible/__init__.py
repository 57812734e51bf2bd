"""Feasibility stages: each decides whether a node can run a task group at all.

One stage per module; :mod:`caravan.scheduler.stack` chains them in order. Stages that depend
only on a node's computed class are memoised per class (:mod:`.class_cache`).
"""
