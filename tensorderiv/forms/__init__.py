"""The forms layer: structure, layouts, the notes' matrix forms, reduction and notation.

``structure`` finds zero, identity, diagonal, delta, Kronecker, redundant and symmetric structure
in arrays; ``layouts`` maps a c-tensor's axes to the notes' matrix rows and columns;
``matrixform`` is the collapsed form, ``rules`` how each of its rules multiplies a downstream
derivative; ``reduce`` turns a c-tensor or an array into one; ``notation`` (with ``naming``,
``products``, ``matrixtext``) and ``latex`` write derivatives as the notes would, ``collapsed``
writes the collapsed forms, and ``factors`` finds the named factors of a chain rule. It may import
:mod:`tensorderiv.core` and :mod:`tensorderiv.symbolic`, never the display, testing or command-line
layers above it.
"""
