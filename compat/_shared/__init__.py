"""Backend-neutral halves of the mirrors (nn, optimizers, utils), mounted over each core.

Not imported directly: :func:`ember_mlx.compat.mount` loads each file under a mirror's name.
"""
