"""The display layer: how tensorderiv shows its results to a person.

Rich display, explanations and plots sit here, above ``forms`` and below ``testing``: its
modules may import ``core``, ``symbolic`` and ``forms`` (the derivatives, their matrix forms and
notation), never ``testing`` or ``cli``. ``explain`` shows a derivative's chain rule step by
step, the way the lecture notes do (A.9), as text, HTML and MathJax LaTeX; the rich ``_repr_*``
hooks and the plots live beside it.
"""
