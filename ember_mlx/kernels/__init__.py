"""Hand-written Metal kernels, each beside its reference path in ``mx`` ops.

- :func:`gibbs_chain`: block Gibbs sampling for an RBM (``metal/gibbs.metal``).
- :func:`wired_cfc_scan`, :func:`ltc_scan`: the masked recurrence, a whole sequence of a wired
  CfC or LTC cell in one dispatch (``metal/wired_cfc_scan.metal``, ``metal/ltc_scan.metal``).
- :mod:`~ember_mlx.kernels.rng`: the counter-based generator the kernels and references share.
- :mod:`~ember_mlx.kernels.emulator`: runs a kernel body on the CPU for tests off Apple silicon.

Each kernel function takes ``use_kernel`` (see :mod:`~ember_mlx.kernels.dispatch`); the
environment variable ``EMBER_KERNELS=reference`` forces the reference paths.

Off Apple silicon the tests run the shipped Metal sources through the emulator (they need
``g++``, and skip with a reason without it)::

    EMBER_BACKEND=numpy python -m pytest tests/test_emulator.py tests/test_gibbs_kernel.py
"""

from .gibbs import gibbs_chain, gibbs_chain_reference
from .scan import ltc_scan, wired_cfc_scan

__all__ = ["gibbs_chain", "gibbs_chain_reference", "ltc_scan", "wired_cfc_scan"]
