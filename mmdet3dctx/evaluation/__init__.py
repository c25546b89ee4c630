"""Registered plugins; see the submodules."""
