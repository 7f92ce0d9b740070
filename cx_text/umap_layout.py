"""UMAP's layout epoch with Python's GIL released, so other threads run while UMAP lays out.

With a `random_state` (cx-text always sets one: same data, same themes) UMAP optimises the
layout on one core, one numba call per epoch (`umap.layouts._nb_optimize_layout_euclidean_
single_epoch`, compiled without `nogil`), and holds the GIL for the whole call. Any other
thread of the process then waits for the GIL: the sentences and polarity vectors the CLI
embeds beside the clustering (`FanOut.alongside`) stalled for the layout's whole duration,
with one core idle.

`epoch` is the same kernel called from a `nogil` entry point: the same compiled function with
the same arguments, so the layout is bit for bit the one UMAP computes (tested). Imported by
`cx_text.umap_setup.prepare`, which puts it in UMAP's place; cached on disk like UMAP's own.
"""

from __future__ import annotations

import numba
from umap import layouts

_kernel = layouts._nb_optimize_layout_euclidean_single_epoch


@numba.njit(nogil=True, cache=True)
def epoch(head_embedding, tail_embedding, head, tail, n_vertices, epochs_per_sample, a, b,
          rng_state_per_sample, gamma, dim, move_other, alpha, epochs_per_negative_sample,
          epoch_of_next_negative_sample, epoch_of_next_sample, n, densmap_flag, dens_phi_sum,
          dens_re_sum, dens_re_cov, dens_re_std, dens_re_mean, dens_lambda, dens_R, dens_mu,
          dens_mu_tot):  # fmt: skip
    _kernel(head_embedding, tail_embedding, head, tail, n_vertices, epochs_per_sample, a, b,
            rng_state_per_sample, gamma, dim, move_other, alpha, epochs_per_negative_sample,
            epoch_of_next_negative_sample, epoch_of_next_sample, n, densmap_flag, dens_phi_sum,
            dens_re_sum, dens_re_cov, dens_re_std, dens_re_mean, dens_lambda, dens_R, dens_mu,
            dens_mu_tot)  # fmt: skip
