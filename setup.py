"""Maps the top-level compat/ and metal/ folders into the ember_mlx package.

The repository keeps the mirrors and the Metal sources beside the library (see ARCHITECTURE.md);
the installed package holds them as ember_mlx.compat and ember_mlx.metal.
"""

from setuptools import find_packages, setup

packages = (
    find_packages(include=["ember_mlx", "ember_mlx.*"])
    + ["ember_mlx.compat"]
    + [f"ember_mlx.compat.{name}" for name in find_packages("compat")]
    + ["ember_mlx.metal"]
)
package_dir = {"ember_mlx.compat": "compat", "ember_mlx.metal": "metal"}

setup(packages=packages, package_dir=package_dir)
