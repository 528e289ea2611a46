"""The display layer: how tensorderiv's objects look in a notebook, a terminal and a figure.

It owns the short ``repr`` and the rich (HTML and LaTeX) displays of expressions, derivatives,
c-tensors, matrix forms and derivative checks — registered at import time in the core registry
:mod:`tensorderiv.core.renderers`, which the lower classes call, so that they never import this
layer — and :func:`~tensorderiv.display.plot.plot`, the structure plots drawn with matplotlib
(the ``plot`` extra, imported lazily). It may import the core, symbolic and forms layers, numpy
and, lazily through :func:`tensorderiv.core.optional.require`, matplotlib; it sits below the
testing kit and the command line, and it knows the testing kit's results only by their class name.
"""

from . import rich
from .plot import plot

__all__ = ["plot", "rich"]
