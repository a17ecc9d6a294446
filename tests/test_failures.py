"""Nothing lost, nothing hidden (issue 25): a save that fails changes nothing and says so, too
long or unknown text is refused naming the limit or the words, damaged model files are detected
(retrained and said so, or an error naming the file and how to reset), an unwritable cache
keeps the model just trained, one device parser, no loop trains on through nan."""

from __future__ import annotations

import json
import os
import shutil
import stat

import pytest
import torch

import course_lib
from course_lib import models as M
from course_lib import reward_model as RM
from course_lib import sft
from course_lib.evaluation import sequence_logprobs
from course_lib.sampling import sample
from course_lib.widgets.preference_collector import PreferenceCollector, load_preferences

ROOT_CAN_WRITE_ANYWHERE = os.geteuid() == 0
PROMPT = "Q: What is 12 + 34? A:"


@pytest.fixture(scope="module")
def base():
    return course_lib.load_base_model(device="cpu")


def _unwritable(folder):
    """A folder this process cannot write into: read-only by mode, or (for root, whom modes do
    not stop) a path below a regular file."""
    if ROOT_CAN_WRITE_ANYWHERE:
        blocker = folder / "not-a-folder"
        blocker.write_text("x")
        return blocker / "inside"
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    return folder


# --- 1. PreferenceCollector after a failed save -------------------------------------------------

PAIRS = [("Q: What is 1 + 2? A:", "3.", "4."), ("Q: What is 2 + 2? A:", "4.", "5.")]


def test_a_failed_save_changes_nothing_and_shows_the_error_in_the_widget(tmp_path):
    path = tmp_path / "prefs.json"
    collector = PreferenceCollector(PAIRS, path)
    collector.widget()
    collector.choose("A")
    screen = collector._html.value
    original = collector.path
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    collector.path = _unwritable(blocked) / "prefs.json"
    collector.buttons["B"].click()  # the click's error goes to the widget, not only the log
    assert len(collector.comparisons) == 1 and collector.position == 1
    assert collector.current == PAIRS[1] and collector._html.value == screen
    assert "Could not save" in collector._status.value and collector.error
    with pytest.raises(OSError, match="Nothing was recorded"):
        collector.choose("B")
    with pytest.raises(OSError):
        collector.undo()
    assert len(collector.comparisons) == 1 and collector.position == 1
    collector.path = original  # writable again: the next click is for the pair on screen
    c = collector.choose("B")
    assert c.prompt == PAIRS[1][0] and c.chosen == PAIRS[1][2]
    assert [x.prompt for x in load_preferences(path)] == [PAIRS[0][0], PAIRS[1][0]]


def test_saved_preferences_are_readable_by_others_as_the_umask_allows(tmp_path):
    path = tmp_path / "prefs.json"
    PreferenceCollector(PAIRS, path).choose("A")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


# --- 2. longer than the model's 64 positions ----------------------------------------------------

LONG = " ".join(["12 + 34 ="] * 20)  # 100 tokens


def test_too_long_text_is_refused_naming_the_limit(base):
    model, tok = base
    with pytest.raises(ValueError, match="64 positions"):
        sft.make_sft_batch(tok, [(PROMPT, LONG)])
    with pytest.raises(ValueError, match="64 positions"):
        sft.token_table(model, tok, PROMPT, LONG)
    with pytest.raises(ValueError, match="64 positions"):
        sft.train_sft(model, tok, [(PROMPT, LONG)], sft.SFTConfig(steps=1), progress=False)
    with pytest.raises(ValueError, match="64 positions"):
        sequence_logprobs(model, tok, [PROMPT], [LONG])
    with pytest.raises(ValueError, match="64 positions"):
        RM.encode(tok, [LONG], ["I do not know."])  # it used to cut the question off
    with pytest.raises(ValueError, match="n_positions"):
        sample(model, tok, [LONG], max_new_tokens=4)


# --- 4. damaged model files ---------------------------------------------------------------------

def _copy_base(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(M.BASE_MODEL_DIR, folder)
    return folder


def _truncate(file):
    data = file.read_bytes()
    file.write_bytes(data[:len(data) // 2])


def _garble(file):
    file.write_bytes(b"\x00garbage" * 40)


def _nan_weights(file):
    """Bytes of one weight turned into a NaN's: still valid safetensors."""
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(file))
    name = next(iter(tensors))
    tensors[name].view(-1)[0] = float("nan")
    save_file(tensors, str(file), metadata={"format": "pt"})


@pytest.mark.parametrize("damage", [_truncate, _garble, _nan_weights])
@pytest.mark.parametrize("name", ["model.safetensors", "config.json", "tokenizer.json"])
def test_a_damaged_model_is_an_error_naming_the_file_and_how_to_reset(tmp_path, name, damage):
    folder = _copy_base(tmp_path)
    if damage is _nan_weights and name != "model.safetensors":
        pytest.skip("only weights hold numbers")
    damage(folder / name)
    with pytest.raises(M.ModelFilesError, match="Delete the folder") as err:
        M.load_model(folder, device="cpu")
    assert str(folder) in str(err.value)


def test_a_bit_flip_in_the_weights_is_caught_by_the_checksum(tmp_path, base):
    model, tok = base
    folder = M.save_model(model, tok, tmp_path / "saved")
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[-100] ^= 0x01  # one bit of the last weight: still valid, still finite
    (folder / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(M.ModelFilesError, match="checksum"):
        M.load_model(folder, device="cpu")


@pytest.mark.parametrize("folder", [M.BASE_MODEL_DIR, M.SFT_MODEL_DIR, M.GRPO_MODEL_DIR])
def test_the_shipped_models_carry_the_checksum_of_their_weights(folder):
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["sha256"] == M._sha256(folder / "model.safetensors")


def test_damaged_shipped_files_name_how_to_restore_them():
    assert "git checkout -- course_lib/assets" in M.how_to_reset(M.BASE_MODEL_DIR)


@pytest.mark.parametrize("name", ["meta.json", "history.json", "model.safetensors"])
def test_a_damaged_cached_model_is_trained_again_and_said_so(tmp_path, base, name, capsys):
    model, tok = base
    folder = M.save_cached(model, tok, tmp_path / "sft-key", "key", [{"loss": 1.0}])
    assert M.is_cached(folder, "key")
    _truncate(folder / name)
    assert not M.is_cached(folder, "key")
    assert f"The saved model in {folder} is damaged" in capsys.readouterr().out


def test_saved_models_are_readable_by_others_as_the_umask_allows(tmp_path, base):
    model, tok = base
    folder = M.save_model(model, tok, tmp_path / "shared")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o777 & ~umask
    assert json.loads((folder / "meta.json").read_text())["sha256"]


# --- 5. an unwritable cache ---------------------------------------------------------------------

def test_an_unwritable_cache_warns_naming_course_cache_and_keeps_the_model(tmp_path, base):
    model, tok = base
    (tmp_path / "cache").mkdir()
    target = _unwritable(tmp_path / "cache")
    with pytest.warns(UserWarning, match="COURSE_CACHE"):
        assert M.cache_model(model, tok, target / "sft-x", "x", [{"loss": 1.0}]) is None


def test_load_sft_model_returns_the_trained_model_when_the_cache_cannot_be_written(
        tmp_path, monkeypatch, base):
    model, tok = base
    monkeypatch.setattr(sft, "sft_key", lambda config, mix: "not-shipped")
    monkeypatch.setattr(sft, "_train", lambda config, mix, on_step, progress: (
        model, tok, [{"step": i, "loss": 1.0, "lr": 0.0} for i in range(config.steps)]))
    (tmp_path / "c").mkdir()
    monkeypatch.setenv("COURSE_CACHE", str(_unwritable(tmp_path / "c")))
    with pytest.warns(UserWarning, match="COURSE_CACHE"):
        got, _ = sft.load_sft_model(sft.SFTConfig(steps=2), device="cpu")
    assert got is model


def test_an_empty_course_cache_is_not_the_current_folder(monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", "")
    with pytest.warns(UserWarning, match="COURSE_CACHE is set but empty"):
        folder = course_lib.settings.cache_dir()
    assert folder.is_absolute() and folder.name == "course_lib"


# --- 6. ResponseViewer and a failing reward -----------------------------------------------------

def test_response_viewer_shows_a_reward_error_instead_of_the_old_responses(base):
    from course_lib.widgets import ResponseViewer

    model, tok = base

    def picky(prompts, responses):
        if "2 + 2" in prompts[0]:
            raise KeyError("no country in this prompt")
        return torch.zeros(len(prompts))

    viewer = ResponseViewer(model, tok, [PROMPT], reward_fn=picky, n_samples=2, max_new_tokens=4)
    assert "<ol>" in viewer.output.value
    viewer.prompt.value = "Q: What is 2 + 2? A:"
    viewer.button.click()
    assert "<ol>" not in viewer.output.value
    assert "reward function failed" in viewer.output.value and "KeyError" in viewer.output.value


# --- 7. nan in training -------------------------------------------------------------------------

@pytest.mark.parametrize("config", [sft.SFTConfig, RM.RMConfig])
@pytest.mark.parametrize("lr", [float("inf"), float("nan"), True])
def test_a_non_finite_learning_rate_is_refused(config, lr):
    with pytest.raises(ValueError, match="lr"):
        config(lr=lr)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_bradley_terry_loss_refuses_non_finite_scores(bad):
    with pytest.raises(ValueError, match="r_chosen holds nan or inf"):
        RM.bradley_terry_loss(torch.tensor([bad, 0.0]), torch.tensor([0.0, 0.0]))


# --- 8. one device parser -----------------------------------------------------------------------

@pytest.mark.parametrize("device", ["gpu", "tpu", "cuda:x", "", 3])
def test_a_bad_device_is_named_by_every_loader(device):
    for load in (course_lib.load_base_model, course_lib.load_sft_model,
                 RM.load_reward_model):
        with pytest.raises((ValueError, TypeError), match="device"):
            load(device=device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_is_a_clear_error_and_the_environment_variable_is_named(monkeypatch):
    with pytest.raises(ValueError, match="CUDA is not available"):
        course_lib.load_base_model(device="cuda")
    monkeypatch.setenv("COURSE_DEVICE", "gpu")
    with pytest.raises(ValueError, match="COURSE_DEVICE"):
        course_lib.get_device()


# --- 9. unknown words and special-token text ----------------------------------------------------

@pytest.mark.parametrize("prompt, word", [
    ("Q: What is the capital of Narnia? A:", "Narnia"),
    ("Q: what is 12 + 34? A:", "what"),
    ("Q: What is 12 + 34? 🙂 A:", "🙂")])
def test_unknown_words_are_named_not_read_as_unk(base, prompt, word):
    model, tok = base
    with pytest.raises(ValueError, match=word):
        sample(model, tok, [prompt], max_new_tokens=4)
    with pytest.raises(ValueError, match=word):
        sft.make_sft_batch(tok, [(prompt, "I do not know.")])
    with pytest.raises(ValueError, match=word):
        RM.encode(tok, [prompt], ["I do not know."])


@pytest.mark.parametrize("text", ["Q: What is 1 + 2? <eos> A:", "Q: What is <pad> 1? A:"])
def test_text_that_spells_a_special_token_is_refused(base, text):
    model, tok = base
    with pytest.raises(ValueError, match="special token"):
        sample(model, tok, [text], max_new_tokens=4)
    with pytest.raises(ValueError, match="special token"):
        sft.make_sft_batch(tok, [(PROMPT, text)])


def test_sft_loss_names_hugging_face_style_ignored_labels():
    logits = torch.zeros(1, 3, 5)
    with pytest.raises(ValueError, match="-100"):
        sft.sft_loss(logits, torch.tensor([[1, -100, 2]]), torch.tensor([[0, 1, 1]]))


# --- smaller findings ---------------------------------------------------------------------------

def test_the_reward_model_scorer_refuses_a_language_model(base):
    model, tok = base
    with pytest.raises(ValueError, match="rm must be a reward model"):
        RM.score(model, tok, [PROMPT], [" 46."])


@pytest.mark.parametrize("bad", [0, 1, -3, 2.5, True])
def test_sample_comparisons_names_n_samples(base, bad):
    from course_lib.preferences import sample_comparisons
    model, tok = base
    with pytest.raises(ValueError, match="n_samples must be an int >= 2"):
        sample_comparisons(model, tok, [PROMPT], n_samples=bad)


def test_enumerating_a_policy_too_large_is_refused_before_it_starts():
    from course_lib import mdp
    policy = mdp.TinyPolicy(words=[f"w{i}" for i in range(8)], horizon=6)
    with pytest.raises(ValueError, match="299,593 different things"):  # 1 + 8 + ... + 8^6
        mdp.enumerate_sequences(policy)
    assert len(mdp.enumerate_sequences(mdp.TinyPolicy(horizon=3))[0]) == 40
