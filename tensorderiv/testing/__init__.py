"""Tools for testing derivatives: checks and Hypothesis strategies (public API).

``tensorderiv.testing.strategies`` needs Hypothesis (the ``test`` extra); it is imported only when
asked for.
"""
