"""The world: block libraries, radio, topology, demand and file formats (data only)."""

from trimcore.instance.blocks import ModelLibrary

__all__ = ["ModelLibrary"]
