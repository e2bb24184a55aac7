"""Preference rows in a chat model's format (``DataConfig.chat_template``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlhf_text.chat import dialogue_messages, format_pairs
from rlhf_text.data import DataConfig, PreferencePair, load_preference_data

# A ChatML-like template, as SmolLM2-Instruct's (which also prepends a system turn).
TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture
def chat_tokenizer_dir(tmp_path, tiny_tokenizer) -> Path:
    import copy

    tokenizer = copy.deepcopy(tiny_tokenizer)
    tokenizer.chat_template = TEMPLATE
    tokenizer.save_pretrained(tmp_path / "chat-tok")
    return tmp_path / "chat-tok"


def test_dialogue_turns_become_messages_without_the_open_assistant_turn():
    prompt = "\n\nHuman: Hi there\n\nAssistant: Hello!\n\nHuman: Bread?\n\nAssistant:"
    assert dialogue_messages(prompt) == [
        {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Bread?"},
    ]
    # no markers at all: the whole text is the user's
    assert dialogue_messages("What is tea?") == [{"role": "user", "content": "What is tea?"}]


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        ("\n\nHuman: Hi\n\nAssistant: I already answered", "already has text"),
        ("\n\nAssistant:", "no Human text"),
    ],
)
def test_prompts_that_cannot_be_chat_prompts_are_errors(prompt, message):
    with pytest.raises(ValueError, match=message):
        dialogue_messages(prompt)


def test_format_pairs_renders_the_template_and_strips_the_response_space(tiny_tokenizer):
    import copy

    tokenizer = copy.deepcopy(tiny_tokenizer)
    tokenizer.chat_template = TEMPLATE
    pair = PreferencePair("\n\nHuman: Why is the sky blue?\n\nAssistant:", " Rayleigh.", " Dunno.")
    (out,) = format_pairs([pair], tokenizer)
    assert out.prompt == "<|im_start|>user\nWhy is the sky blue?<|im_end|>\n<|im_start|>assistant\n"
    assert (out.chosen, out.rejected) == ("Rayleigh.", "Dunno.")


def write_rows(tmp_path: Path) -> Path:
    rows = [
        {"prompt": f"\n\nHuman: Question {i}?\n\nAssistant:", "chosen": " Yes.", "rejected": " No."}
        for i in range(20)
    ]
    source = tmp_path / "rows.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return source


def test_chat_template_formats_every_row_of_both_splits(tmp_path, chat_tokenizer_dir):
    source = write_rows(tmp_path)
    plain = load_preference_data(DataConfig(source=str(source), eval_fraction=0.25))
    chat = load_preference_data(
        DataConfig(source=str(source), eval_fraction=0.25, chat_template=str(chat_tokenizer_dir))
    )
    # the same rows on the same side of the split, only re-rendered
    for before, after in zip(plain.train + plain.eval, chat.train + chat.eval, strict=True):
        question = before.prompt.split("Human: ")[1].split("\n")[0]
        assert after.prompt == f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"
        assert after.chosen == before.chosen.lstrip() == "Yes."
    assert len(chat.eval) == len(plain.eval) == 5


def test_a_tokenizer_without_a_chat_template_is_an_error(tmp_path, tiny_tokenizer):
    tiny_tokenizer.save_pretrained(tmp_path / "plain-tok")
    with pytest.raises(ValueError, match="has no chat template"):
        load_preference_data(DataConfig(chat_template=str(tmp_path / "plain-tok")))
    with pytest.raises(ValueError, match="chat_template"):
        DataConfig(chat_template=" ")


def test_report_tables_show_each_rows_own_prompt_not_the_template(tmp_path, chat_tokenizer_dir):
    from rlhf_text.pipeline import PipelineConfig
    from rlhf_text.pipeline_report import readable_prompts
    from rlhf_text.report import score_table

    source = str(write_rows(tmp_path))
    config = PipelineConfig(data=DataConfig(source=source, chat_template=str(chat_tokenizer_dir)))
    data = load_preference_data(config.data)
    shown = readable_prompts(config, data)
    assert len(shown) == len(data.eval) == 2
    for pair in data.eval:
        question = pair.prompt.split("user\n")[1].split("<|im_end|>")[0]
        assert shown[pair.prompt] == f"\n\nHuman: {question}\n\nAssistant:"
    assert readable_prompts(PipelineConfig(data=DataConfig(source=source)), data) == {}

    class LengthScorer:
        def score(self, prompts, responses):
            return [float(len(p + r)) for p, r in zip(prompts, responses, strict=True)]

    pair = data.eval[0]
    table = score_table(LengthScorer(), [pair.prompt], ["Yes."], ["No."], [shown[pair.prompt]])
    assert "<|im_start|>" not in table and "Human: Question" in table
    # scored on the templated prompt, shown with the row's own
    assert f"{len(pair.prompt) + 4:+.2f}" in table


def test_chat_template_in_both_data_and_env_is_refused():
    from rlhf_text.ppo_trainer import PPOTextConfig, TextEnvConfig

    with pytest.raises(ValueError, match="a second time"):
        PPOTextConfig(
            data=DataConfig(chat_template="models/x"), env=TextEnvConfig(chat_template=True)
        )
