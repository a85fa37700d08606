"""Style mixing with a style-based generator: several latents, one per range of style layers.

StyleGAN's Figure 3: copying the coarse styles (4x4-8x8) of one latent into another's image takes its
pose and shape, the middle styles (16x16 up to the last level but one) its finer features, the fine
styles (the last level) mostly its colours and texture. A trained G takes two latents and a crossover
(`gan_tf.conditioning`); here any number of latents are mixed by running G's parts directly: the
`mapping` sub-model, the `truncate_w` layer and the `synthesis` sub-model (`gan_tf.models.style`).
Works on a Keras generator (a .keras file or a run folder), not on a SavedModel, whose signatures take
z and truncation only.
"""

import numpy as np

from gan_tf import images as pixels
from gan_tf.conditioning import Conditioning
from gan_tf.errors import UserError
from gan_tf.models import style


def _parts(generator):
    if Conditioning.of(generator).styles == 0 or not hasattr(generator, "get_layer"):
        raise UserError("style mixing needs a style-based generator (.keras from --preset stylegan); "
                        "a SavedModel or another architecture cannot mix styles")
    return (generator.get_layer(style.MAPPING_MODEL), generator.get_layer(style.TRUNCATION_LAYER),
            generator.get_layer(style.SYNTHESIS_MODEL))


def style_ranges(num_styles):
    """{"coarse" | "middle" | "fine": (first, stop)} style-layer ranges (two layers per level): coarse is
    4x4 (and 8x8 from four levels up), fine the last level, middle what lies between (may be absent)."""
    levels = num_styles // 2
    coarse = 1 if levels <= 3 else 2
    ranges = {"coarse": (0, 2 * coarse), "middle": (2 * coarse, 2 * (levels - 1)), "fine": (2 * (levels - 1),
                                                                                           num_styles)}
    return {name: (first, stop) for name, (first, stop) in ranges.items() if first < stop}


def mixed_unit_images(generator, latents, sources, truncation=1.0, batch_size=500):
    """Images in [0, 1] whose style layer i takes the style of latents[sources[n, i]].

    latents: a list of k arrays z [n, latent_dim]; sources: int [n, num_styles] (or [num_styles], the
    same for every row) with values in 0..k-1; truncation: psi for every latent.
    """
    mapping, truncate, synthesis = _parts(generator)
    conditioning = Conditioning.of(generator)
    count = len(latents[0])
    sources = np.broadcast_to(np.asarray(sources, np.int64), (count, conditioning.styles))
    if sources.min() < 0 or sources.max() >= len(latents):
        raise UserError(f"style sources must index the {len(latents)} latents given")
    batches = []
    for start in range(0, count, batch_size):
        stop = min(count, start + batch_size)
        psi = np.full(stop - start, truncation, np.float32)
        styles = np.stack([np.asarray(truncate([mapping(np.asarray(z[start:stop], np.float32)), psi], training=False))
                           for z in latents])  # [k, n, w_dim]
        rows = np.arange(stop - start)[:, None]
        w_plus = styles[sources[start:stop], rows, :]  # [n, num_styles, w_dim]
        batches.append(pixels.model_to_unit(np.asarray(synthesis(w_plus, training=False))))
    return np.concatenate(batches)


def mixing_grid(generator, row_seeds, column_seeds, truncation=1.0):
    """StyleGAN's style-mixing figure as one uint8 image, and the ranges in row order.

    Top row: a blank cell, then each column seed's image. Then for each of the coarse, middle and fine
    ranges, one row per row seed: that seed's image, then each column seed's image with this range's
    styles taken from the row seed.
    """
    conditioning = Conditioning.of(generator)
    ranges = style_ranges(conditioning.styles)
    rows_z = np.stack([conditioning.noise(1, seed)[0] for seed in row_seeds])
    columns_z = np.stack([conditioning.noise(1, seed)[0] for seed in column_seeds])
    keep = np.zeros(conditioning.styles, np.int64)
    sources_of_rows = mixed_unit_images(generator, [rows_z], keep, truncation)
    sources_of_columns = mixed_unit_images(generator, [columns_z], keep, truncation)
    blank = np.zeros_like(sources_of_columns[:1])
    cells = [blank, sources_of_columns]
    for first, stop in ranges.values():
        layer_sources = keep.copy()
        layer_sources[first:stop] = 1  # these layers from the row's latent
        for row, row_z in enumerate(rows_z):
            copied = np.repeat(row_z[None], len(column_seeds), axis=0)
            cells += [sources_of_rows[row:row + 1],
                      mixed_unit_images(generator, [columns_z, copied], layer_sources, truncation)]
    grid = pixels.grid(np.concatenate(cells), columns=len(column_seeds) + 1)
    return pixels.unit_to_bytes(grid), list(ranges.items())
