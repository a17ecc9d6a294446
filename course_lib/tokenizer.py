"""A word-level tokenizer for the tiny world, built with the ``tokenizers`` library.

Every word of the world is one token, digits are single tokens (so ``68`` is ``6 8``: the model
adds digit by digit), punctuation is its own token. The tokenizer is wrapped in
``transformers.PreTrainedTokenizerFast`` so it behaves like any Hugging Face tokenizer: ``<bos>``
is added in front of every text, ``<pad>`` pads on the left (what generation needs), ``<eos>``
ends every response.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, pre_tokenizers, processors
from tokenizers.models import WordLevel
from transformers import PreTrainedTokenizerFast

from . import world as W

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIAL_TOKENS = [PAD, BOS, EOS, UNK]

_PRE_TOKENIZER = pre_tokenizers.Sequence([
    pre_tokenizers.Whitespace(),  # words and runs of punctuation
    pre_tokenizers.Digits(individual_digits=True),  # "68" -> "6", "8"
    pre_tokenizers.Split(Regex(r"[^\w\s]"), behavior="isolated"),  # "?." -> "?", "."
])


def _world_texts(world: W.World) -> list[str]:
    """Every kind of text the course ever writes, so every word has a token."""
    texts = list(W.FILLER) + ["I do not know.", "0 1 2 3 4 5 6 7 8 9 + = , :",
                              "What is 1 + 2?",
                              "So 1 plus 2 makes 3."]
    for e in world.entities:
        values = dict(a=e.capital, b=e.rival or e.capital, country=e.country, capital=e.capital,
                      food=e.food, color=e.color, thing=e.thing, answer=e.capital,
                      suggestion=e.capital)
        for t in (W.FACT_TEMPLATES + W.OTHER_TEMPLATES
                  + [W.QUESTION, W.QUESTION_WITH_SUGGESTION, W.HEDGED, W.ABSTAIN, W.AGREE,
                     W.CONFIDENT, W.DISPUTE_TEMPLATE]
                  + [t for pair in W.OTHER_QUESTIONS for t in pair]):
            texts.append(t.format(**values))
    texts += list(world.rivals)
    texts += [W.OTHER_TEMPLATES[0].format(country="X", food=f) for f in W.FOODS]
    texts += [W.OTHER_TEMPLATES[2].format(country="X", color=c) for c in W.COLORS]
    texts += [W.OTHER_TEMPLATES[3].format(country="X", thing=t) for t in W.THINGS]
    texts.append(W.ADDITION_QUESTION.format(a=12, b=34))
    texts.append(W.CHAIN_QUESTION.format(terms="12 + 34 + 56"))
    return texts


def build_tokenizer(world: W.World | None = None) -> PreTrainedTokenizerFast:
    """A fresh tokenizer whose vocabulary is every word of ``world`` (sorted: deterministic)."""
    world = world or W.default_world()
    words: set[str] = set()
    for text in _world_texts(world):
        words.update(w for w, _ in _PRE_TOKENIZER.pre_tokenize_str(text))
    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS + sorted(words))}

    tok = Tokenizer(WordLevel(vocab, unk_token=UNK))
    tok.pre_tokenizer = _PRE_TOKENIZER
    # WordPiece's decoder joins tokens with spaces and removes the space before . , ? !
    tok.decoder = decoders.Sequence([decoders.WordPiece(prefix="##", cleanup=True),
                                     decoders.Replace(" :", ":")])
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A $B", special_tokens=[(BOS, vocab[BOS])])
    return wrap(tok)


def wrap(tok: Tokenizer) -> PreTrainedTokenizerFast:
    """Wrap a raw ``tokenizers.Tokenizer`` as the course's Hugging Face tokenizer."""
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD, unk_token=UNK,
        padding_side="left", clean_up_tokenization_spaces=True, model_max_length=64)


def check_known_words(tokenizer: PreTrainedTokenizerFast, texts: list[str], name: str,
                      ids: list[list[int]] | None = None) -> None:
    """Refuse texts the model cannot read: words outside its vocabulary (which would silently
    become ``<unk>``: "Narnia" would read as any unknown country) are named, and text that spells
    a special token (``<eos>``, ``<pad>``, ...) is refused, since it would become that token.

    ``ids``, the texts' token ids when the caller has them already, makes the check free.
    """
    for i, text in enumerate(texts):
        special = next((t for t in SPECIAL_TOKENS if t in text), None)
        if special is not None:
            raise ValueError(f"{name}[{i}] spells the special token {special!r} ({text!r}); it "
                             "would be read as that token, not as text: remove it")
    if ids is None:
        ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    unk = tokenizer.unk_token_id
    for i, (text, row) in enumerate(zip(texts, ids)):
        if unk in row:
            vocab = tokenizer.get_vocab()
            pre = tokenizer.backend_tokenizer.pre_tokenizer.pre_tokenize_str(text)
            unknown = sorted({w for w, _ in pre if w not in vocab})
            raise ValueError(
                f"{name}[{i}] has words the model does not know: {', '.join(map(repr, unknown))} "
                f"(in {text!r}). The tiny world's vocabulary is {len(vocab)} words, case "
                "sensitive; an unknown word would be read as <unk>.")


def save_tokenizer(tokenizer: PreTrainedTokenizerFast, directory: str | Path) -> None:
    """Write ``tokenizer.json`` and its config into ``directory``."""
    tokenizer.save_pretrained(str(directory))


def load_tokenizer(directory: str | Path) -> PreTrainedTokenizerFast:
    """Load a tokenizer written by :func:`save_tokenizer` (offline, from files only)."""
    directory = Path(directory)
    if not (directory / "tokenizer.json").is_file():
        raise FileNotFoundError(f"no tokenizer.json in {directory}")
    tok = PreTrainedTokenizerFast.from_pretrained(str(directory), local_files_only=True)
    tok.padding_side = "left"
    return tok
