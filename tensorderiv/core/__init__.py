"""The core layer: labelled axes, errors, options, optional imports, c-tensors and contraction.

It owns the data every other layer speaks: an :class:`~tensorderiv.core.axes.Axis` label, the
compact :class:`~tensorderiv.core.ctensor.CTensor` (a core array plus an axis map, deltas kept as
label identifications), and :func:`~tensorderiv.core.contract.contract`, one opt_einsum contraction
over shared labels; also two hooks for upper layers: the registry the rich displays fill
(renderers) and progress bars for long work (progress). It knows nothing of expressions,
derivatives or matrix forms, and imports only numpy, opt_einsum and its own modules (errors,
options, axes, optional and renderers first; then ctensor and progress; then contract).
"""
