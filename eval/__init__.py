"""Disentanglement metrics and the ``disentangle`` evaluation of InfoGAN / C-InfoGAN checkpoints.

Pure metrics over arrays (samples first: ``codes (N, C)``, ``factors (N, K)`` int), one module each:
:mod:`eval.mutual_info`, :mod:`eval.mig`, :mod:`eval.sap`, :mod:`eval.dci`, :mod:`eval.clustering`,
:mod:`eval.probes`; :func:`eval.score.score` runs them all. :mod:`eval.oracles` measures the factors of
generated images (factor classifiers, analytic measurements) and :mod:`eval.disentangle` is the checkpoint
pipeline. ``eval`` is also a Python builtin: import ``from eval import mig`` inside the project and run
``python -m eval ...`` from the shell.
"""
