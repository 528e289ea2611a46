"""The symbolic layer: expressions in index notation, their derivatives and their evaluation.

Text is parsed with ``ast`` into interned nodes (``nodes``), built by simplifying constructors
(``simplify``) and the function table of derivative rules (``functions``); ``expr`` is the user's
vocabulary, ``parse`` reads text into it, ``differentiate`` applies the chain rule node by node,
``values`` checks the values given, ``compute`` holds each node kind's computation on values,
``steps`` a program's compiled numpy step list, ``evaluate`` runs a graph as einsum contractions on
c-tensors, and ``derivative`` is the public ``derive``. It may import :mod:`tensorderiv.core`
and, within the layer, only modules earlier in that order; it knows nothing of matrix forms,
display or the command line.
"""
