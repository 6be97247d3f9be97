"""A module whose import raises, for the Rust tests in `../embed.rs`."""


def _fail():
    raise RuntimeError("this module cannot be imported")


_fail()
