"""The Python tasks of the hybrid example, used by the Python program (`pipeline.py`) and the
Rust one (`host/`): making the documents, counting their words in Python (to compare with the
Rust task `count_words`), checking that both counts agree, and the report."""

from __future__ import annotations

import collections
import datetime
import random
import re

import cloacina

VOCABULARY = (
    "river stone cloud ember willow harbor lantern meadow falcon copper orchard thunder velvet glacier "
    "compass saffron tide quarry beacon juniper marble canyon ripple cedar prism lagoon summit"
).split()

WORD = re.compile(r"[^\W_]+")
"""A run of letters and digits: what the Rust task counts as a word (`char::is_alphanumeric`)."""


@cloacina.task(id="load_documents")
def load_documents(context: cloacina.Context) -> None:
    """Makes `document_count` (default 2,000) documents of 200 words, the same on every run."""
    count = context.get("document_count", 2_000)
    generator = random.Random(7)
    context["documents"] = [
        " ".join(
            generator.choice(VOCABULARY).capitalize() if index % 12 == 0 else generator.choice(VOCABULARY)
            for index in range(200)
        )
        for _ in range(count)
    ]


@cloacina.task(id="count_words_in_python", dependencies=["load_documents"])
def count_words_in_python(context: cloacina.Context) -> None:
    """The Rust task `count_words`, written in Python."""
    counts: collections.Counter[str] = collections.Counter()
    for document in context["documents"]:
        counts.update(word.lower() for word in WORD.findall(document))
    context["python_counts"] = dict(counts)
    context["python_total_words"] = sum(counts.values())


@cloacina.task(id="compare", dependencies=["count_words", "count_words_in_python"])
def compare(context: cloacina.Context) -> None:
    """Checks that Rust and Python counted the same."""
    if context["counts"] != context["python_counts"] or context["total_words"] != context["python_total_words"]:
        raise ValueError("the Rust and Python word counts differ")
    context["counts_agree"] = True


@cloacina.task(id="report", dependencies=["top_words"])
def report(context: cloacina.Context) -> None:
    """The report: the most frequent words and when the Rust task ranked them (a datetime)."""
    ranked_at: datetime.datetime = context["ranked_at"]
    words = ", ".join(f"{word} ({count})" for word, count in context["top_words"][:5])
    context["report"] = f"{context['total_words']} words, ranked at {ranked_at:%H:%M:%S} UTC; most frequent: {words}"
