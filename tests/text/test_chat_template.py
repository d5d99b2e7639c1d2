"""Chat templates: `render` writes what Hugging Face's
`apply_chat_template` writes with SmolLM2's template; `ChatFormat` writes
the same ChatML in the graph, and refuses a template of another format;
`check_messages` refuses malformed conversations."""

import pytest
import tensorflow as tf

from tests.conftest import one_line_error
from tests.models.tiny_checkpoints import CHATML_TEMPLATE
from tfzoo.text.chat_template import ChatFormat, check_messages, render

DEFAULT_SYSTEM = ("You are a helpful AI assistant named SmolLM, trained by "
                  "Hugging Face")
# Llama 2's chat template (meta-llama/Llama-2-7b-chat-hf), shortened.
LLAMA2_TEMPLATE = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = "
    "messages[1:] %}{% set system_message = messages[0]['content'] %}"
    "{% else %}{% set loop_messages = messages %}{% set system_message = "
    "false %}{% endif %}{% for message in loop_messages %}"
    "{% if loop.index0 == 0 and system_message != false %}{% set content = "
    "'<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + "
    "message['content'] %}{% else %}{% set content = message['content'] %}"
    "{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' "
    "+ content.strip() + ' [/INST]' }}{% elif message['role'] == "
    "'assistant' %}{{ ' ' + content.strip() + ' ' + eos_token }}{% endif %}"
    "{% endfor %}")
LLAMA2_TOKENS = {"bos": "<s>", "eos": "</s>"}


@pytest.fixture(scope="module")
def smollm2_template():
    """SmolLM2's template from its GGUF file where installed, else the
    same text as the tests keep it."""
    from tests.conftest import smollm2_gguf

    try:
        path = smollm2_gguf()
    except pytest.skip.Exception:
        return CHATML_TEMPLATE
    from tfzoo.models.gguf_checkpoint import field, open_gguf

    template = field(open_gguf(path), "tokenizer.chat_template")
    assert template == CHATML_TEMPLATE
    return template


def test_render_writes_chatml(smollm2_template):
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    assert render(smollm2_template, messages) == (
        f"<|im_start|>system\n{DEFAULT_SYSTEM}<|im_end|>\n"
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
        "<|im_start|>assistant\n")
    messages = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi!"},
                {"role": "assistant", "content": "Hello."}]
    assert render(smollm2_template, messages, add_generation_prompt=False) \
        == ("<|im_start|>system\nBe brief.<|im_end|>\n"
            "<|im_start|>user\nHi!<|im_end|>\n"
            "<|im_start|>assistant\nHello.<|im_end|>\n")


CONVERSATIONS = [
    ("", [("user", "Hi!")]),
    ("Answer in French.", [("user", "What is the capital of France?")]),
    ("", [("user", "Hi!"), ("assistant", "Hello! How can I help?"),
          ("user", "Write two lines:\nroses\n\nviolets"),
          ("assistant", "Roses are red,\nviolets are blue."),
          ("user", "  Thanks  ")]),
    ("Line one.\nLine two.", [("user", "¿Qué tal? 你好 🙂"),
                              ("assistant", ""), ("user", "<b>&</b>")]),
]


def test_the_graph_writes_what_the_template_writes(smollm2_template):
    chat = ChatFormat.from_template(smollm2_template)
    assert chat.default_system == DEFAULT_SYSTEM
    # One batch, shorter conversations padded with empty roles.
    width = max(len(turns) for _, turns in CONVERSATIONS)

    def padded(turns, part):
        return [turn[part] for turn in turns] + [""] * (width - len(turns))

    roles = [padded(turns, 0) for _, turns in CONVERSATIONS]
    contents = [padded(turns, 1) for _, turns in CONVERSATIONS]
    prompts = chat.prompt(tf.constant(roles), tf.constant(contents),
                          tf.constant([system for system, _ in
                                       CONVERSATIONS])).numpy()
    for (system, turns), prompt in zip(CONVERSATIONS, prompts):
        messages = ([{"role": "system", "content": system}] if system
                    else []) + [{"role": role, "content": content}
                                for role, content in turns]
        check_messages(messages)
        assert prompt.decode("utf-8") == render(smollm2_template, messages)


def test_a_template_without_a_default_system_turn():
    template = CHATML_TEMPLATE.replace(
        "{% if loop.first and messages[0]['role'] != 'system' %}{{ "
        f"'<|im_start|>system\n{DEFAULT_SYSTEM}<|im_end|>\n' }}}}"
        "{% endif %}", "")
    assert template != CHATML_TEMPLATE
    chat = ChatFormat.from_template(template)
    assert chat.default_system is None
    prompt = chat.prompt(tf.constant([["user"]]), tf.constant([["Hi!"]]),
                         tf.constant([""]))[0].numpy().decode("utf-8")
    assert prompt == render(template, [{"role": "user", "content": "Hi!"}])
    assert prompt == "<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n"


def test_a_template_of_another_format_is_refused():
    messages = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi! "}]
    assert render(LLAMA2_TEMPLATE, messages, True, LLAMA2_TOKENS) == (
        "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi! [/INST]")
    assert "is not ChatML" in one_line_error(
        lambda: ChatFormat.from_template(LLAMA2_TEMPLATE, LLAMA2_TOKENS))
    assert "has no chat template" in one_line_error(
        lambda: ChatFormat.from_template(None))


def test_templates_that_fail_give_one_line_errors():
    assert "does not render" in one_line_error(
        lambda: render("{% for m in messages %}", []))
    refusing = ("{% if messages[0]['role'] == 'assistant' %}{{ "
                "raise_exception('Conversations start with the user\\nor "
                "the system') }}{% endif %}")
    assert "refuses: Conversations start" in one_line_error(
        lambda: render(refusing, [{"role": "assistant", "content": "x"}]))


def test_check_messages_refuses_malformed_conversations():
    assert "non-empty list" in one_line_error(lambda: check_messages([]))
    assert "unknown role 'tool'" in one_line_error(lambda: check_messages(
        [{"role": "user", "content": "Hi"}, {"role": "tool", "content": "x"}]))
    assert "message 1 needs a role and a content" in one_line_error(
        lambda: check_messages([{"role": "user"}]))
    assert "message 2: the content is not text" in one_line_error(
        lambda: check_messages([{"role": "user", "content": "Hi"},
                                {"role": "assistant", "content": None}]))
    check_messages([{"role": "system", "content": ""},
                    {"role": "user", "content": "Hi"}])
