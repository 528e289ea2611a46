"""The command line (``tensorderiv derive``, ``tensorderiv demo``), the top layer.

``values`` reads ``--shape`` and ``--at`` (seeds and ``.npz`` files), ``report`` computes what
``derive`` prints as a record, ``render`` lays that record out as text, LaTeX or JSON, ``demo``
walks through the notes' A.9 network, and ``app`` is the argument parser and ``main``. It may
import every layer below (core, symbolic, forms, testing); nothing imports it but
``tensorderiv.__main__`` and the console script.
"""

from .app import main

__all__ = ["main"]
