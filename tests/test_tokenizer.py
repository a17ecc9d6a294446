"""The word-level tokenizer: every word of the world is a token, left padding, save and load."""

from course_lib import world as W
from course_lib.tokenizer import build_tokenizer, load_tokenizer, save_tokenizer


def test_every_world_word_is_a_token_and_bos_is_added():
    tok = build_tokenizer()
    world = W.default_world()
    for e in world.entities[:50]:
        ids = tok(W.CONFIDENT.format(country=e.country, answer=e.capital))["input_ids"]
        assert ids[0] == tok.bos_token_id
        assert tok.unk_token_id not in ids
    assert tok.convert_ids_to_tokens(tok("68")["input_ids"]) == ["<bos>", "6", "8"]


def test_decode_is_readable():
    tok = build_tokenizer()
    text = "Q: What is the capital of Riland? A:"
    assert tok.decode(tok(text)["input_ids"], skip_special_tokens=True) == text


def test_left_padding_and_save_load(tmp_path):
    tok = build_tokenizer()
    batch = tok(["Q: What", "Q: What is the capital"], padding=True)
    assert batch["input_ids"][0][:3] == [tok.pad_token_id] * 3
    assert batch["attention_mask"][0] == [0, 0, 0, 1, 1, 1, 1]
    save_tokenizer(tok, tmp_path)
    again = load_tokenizer(tmp_path)
    assert again.get_vocab() == tok.get_vocab()
    assert again.padding_side == "left"
    assert again("The capital of Riland is")["input_ids"] == tok(
        "The capital of Riland is")["input_ids"]
