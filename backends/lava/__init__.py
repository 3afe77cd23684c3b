"""Lava backend: lowering compiled programs to Lava processes (see compat.py for Python 3.11)."""
