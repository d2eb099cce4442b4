"""Keys of the :func:`eval.disentangle.disentangle` report (a flat dict), as constants.

Each step's entries carry its prefix (``enc.mig``, ``gen.best_accuracy``, ``trav.change``); inside a step, the keys
of :func:`eval.score.score` and the ones below follow the prefix. No heavy imports: the report writer and the
table need only these names.
"""
ENCODER = "enc."
GENERATOR = "gen."
TRAVERSAL = "trav."
CINFOGAN = "cinfogan."
QUALITY = "quality."           # sample quality (eval.sample_quality): quality.fd, quality.precision, ...
UNTRAINED = "untrained."       # the same architecture at initialisation: untrained.enc.mig, untrained.quality.fd

# encoder direction
EXCLUDED_FACTOR = "excluded_factor"          # C-InfoGAN: the condition factor left out of this direction
DATASET = "dataset"                          # the dataset of the real images

# both directions
SPEARMAN = "spearman"                        # (C_cont, K) rank correlation, continuous codes × factors
SPEARMAN_CODES = "spearman_codes"
SPEARMAN_FACTORS = "spearman_factors"        # the ordered factors and continuous measurements it covers

# generator direction
CHECK_AGREEMENT = "agreement"                # gen.check.<factor>.agreement: pixel measurement vs classifier
LABEL_FIDELITY = "label_fidelity"            # cinfogan.label_fidelity: measured condition factor == requested y

# traversal test
TRAVERSAL_CODES = "codes"
TRAVERSAL_FACTORS = "factors"
TRAVERSAL_CHANGE = "change"                  # (C, K) in [0, 1]
TRAVERSAL_GAP = "gap"                        # (C,)
TRAVERSAL_BEST_FACTOR = "best_factor"        # (C,) factor index
TRAVERSAL_MEAN_GAP = "mean_gap"              # float
TRAVERSAL_GRID = "traversal_grid"            # the captioned sweep picture (a TraversalGrid); not written to JSON
