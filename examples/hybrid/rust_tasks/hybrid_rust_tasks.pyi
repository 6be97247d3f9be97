"""Type stubs for the Rust tasks of the hybrid example (maturin ships this file with the module)."""

from cloacina import RustTask

count_words: RustTask
"""Counts the words of `documents` into `counts` and `total_words`."""

top_words: RustTask
"""The most frequent words of `counts` as `top_words`, with `ranked_at`."""
