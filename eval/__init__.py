"""Disentanglement metrics and the ``disentangle`` evaluation of InfoGAN / C-InfoGAN checkpoints.

Pure metrics over arrays (samples first: ``codes (N, C)``, ``factors (N, K)`` int), one module each:
:mod:`eval.mutual_info`, :mod:`eval.mig`, :mod:`eval.sap`, :mod:`eval.dci`, :mod:`eval.clustering`,
:mod:`eval.probes`, :mod:`eval.factor_vae` (FactorVAE score), :mod:`eval.modularity` (modularity / explicitness);
:func:`eval.score.score` runs them all on arrays, and :func:`eval.representation.compute` scores any representation
function on disentanglement_lib-style ground-truth data.

The checkpoint pipeline :func:`eval.disentangle.disentangle` (settings in :mod:`eval.config`, report keys in
:mod:`eval.keys`) runs three steps, :mod:`eval.encoder_direction`, :mod:`eval.generator_direction` and
:mod:`eval.traversal`, measuring generated images with :mod:`eval.measure` (pixel measurements) and
:mod:`eval.factor_classifiers` (CNNs, their training and cache), scores sample quality with
:mod:`eval.sample_quality` (Fréchet distance, precision / recall / density / coverage in the classifiers'
features), and scores the untrained network the same way beside the trained one; it returns a dict and writes nothing:
:mod:`eval.report` prints tables and writes the JSON and pictures, called from :mod:`eval.cli`.

``eval`` is also a Python builtin: import ``from eval import mig`` inside the project and run
``python -m eval ...`` from the shell.
"""
