"""Counting output tokens when the server reports no usage: OpenAI's own vocabularies, shipped offline by ``bpe-openai``.

``tokens_source`` on the record says what was counted: ``usage`` (the server), ``bpe-openai:o200k_base`` /
``bpe-openai:cl100k_base`` (the model's tokenizer, here), ``bpe-openai:o200k_base estimate`` (another vocabulary's
count, used only to split a usage total that has no reasoning split), or ``chunks`` (one per content chunk: a last resort).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

# Providers whose models use OpenAI's tokenizers. A "compatible" server's model may use any vocabulary: chunks there.
OPENAI_PROVIDERS = ("openai", "azure")
# Model families newer than bpe-openai's table, and the default for an unknown OpenAI model: o200k_base.
_CL100K_PREFIXES = ("gpt-4", "gpt-35", "gpt-3.5", "text-embedding-3", "text-embedding-ada")
_O200K_FIRST = ("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4")


def encoding_name(model: str) -> str:
    """The tokenizer of an OpenAI model name (an Azure deployment's model name works too)."""
    m = model.lower()
    try:
        import bpe_openai

        return str(bpe_openai.encoding_name_for_model(m))
    except Exception:  # not in its table (newer models), or the package missing
        pass
    if m.startswith(_O200K_FIRST):
        return "o200k_base"
    return "cl100k_base" if m.startswith(_CL100K_PREFIXES) else "o200k_base"


@lru_cache(maxsize=4)
def _encoding(name: str) -> Any:
    import bpe_openai

    return bpe_openai.get_encoding(name)


def count_tokens(provider: str, model: str, text: str) -> tuple[int, str] | None:
    """(tokens in ``text``, tokens_source) with the model's own tokenizer, or None when there is none here."""
    if provider not in OPENAI_PROVIDERS or not text:
        return None
    name = encoding_name(model)
    try:
        n = len(_encoding(name).encode(text, disallowed_special=()))
    except Exception:  # the package missing or failing: the caller falls back to chunks, and says so
        return None
    return n, f"bpe-openai:{name}"


def estimate_tokens(text: str) -> tuple[int, str] | None:
    """(an o200k_base count of ``text``, tokens_source): an estimate for a model whose own tokenizer is not here."""
    if not text:
        return None
    try:
        n = len(_encoding("o200k_base").encode(text, disallowed_special=()))
    except Exception:  # the package missing or failing: the caller falls back to chunks, and says so
        return None
    return n, "bpe-openai:o200k_base estimate"
