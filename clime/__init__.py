"""CLIME: CLassifying Interactively with Multilingual Embeddings.

One module per pipeline concern; the scripts at the repository root are thin
wrappers around these modules.
"""

__version__ = "0.1.0"
