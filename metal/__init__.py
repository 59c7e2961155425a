"""Metal kernel sources, shipped inside the wheel and read through importlib.resources."""
