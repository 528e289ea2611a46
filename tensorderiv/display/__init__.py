"""The display layer: how tensorderiv's objects look in a notebook, a terminal and a figure.

It owns the short ``repr`` and the rich (HTML and LaTeX) displays of expressions, derivatives,
c-tensors, matrix forms and derivative checks — registered at import time in the core registry
:mod:`tensorderiv.core.renderers`, which the lower classes call, so that they never import this
layer — :func:`~tensorderiv.display.plot.plot`, the structure plots drawn with matplotlib (the
``plot`` extra, imported lazily), and :func:`~tensorderiv.display.explain.explain`, a derivative's
chain rule step by step the way the lecture notes do (A.9), as text, HTML and MathJax LaTeX. It
may import the core, symbolic and forms layers, numpy and, lazily through
:func:`tensorderiv.core.optional.require`, matplotlib; it sits below the testing kit and the
command line, and it knows the testing kit's results only by their class name.
"""

from . import rich
from .explain import explain
from .plot import plot

__all__ = ["explain", "plot", "rich"]
