"""SmolLM2 in tfzoo against transformers' `LlamaForCausalLM` reading the
same GGUF file (slow; needs transformers and torch, which the test install
does not add: see docs/contributing.md)."""

import os

import numpy as np
import pytest

from tests.conftest import smollm2_gguf

PROMPTS = ["The capital of France is",
           "def fibonacci(n):",
           "Once upon a time, in a small village,"]


@pytest.mark.slow
def test_logits_and_greedy_continuations_equal_transformers():
    transformers = pytest.importorskip(
        "transformers", reason="transformers is not installed (see "
        "docs/contributing.md, slow tests)")
    torch = pytest.importorskip("torch", reason="torch is not installed")
    import tfzoo

    path = smollm2_gguf()
    reference = transformers.AutoModelForCausalLM.from_pretrained(
        os.path.dirname(path), gguf_file=os.path.basename(path),
        torch_dtype=torch.float32)
    run = tfzoo.load_pretrained(path, max_sequence_length=256)
    for prompt in PROMPTS:
        ids = np.asarray(run.tokenizer.tokenize([prompt])[0], "int64")
        with torch.no_grad():
            expected = reference(torch.tensor(ids[None])).logits.numpy()
        logits = np.asarray(run.model(ids[None].astype("int32")))
        difference = np.abs(logits - expected).max()
        print(f"{prompt!r}: largest logit difference {difference:.4f}")
        assert difference < 0.05
        with torch.no_grad():
            continued = reference.generate(
                torch.tensor(ids[None]), max_new_tokens=20, do_sample=False)
        expected_ids = continued[0, len(ids):].numpy().tolist()
        text = tfzoo.generate(run.model, run.tokenizer, prompt,
                              max_new_tokens=20, temperature=0)
        expected_text = run.tokenizer.detokenize([expected_ids])[0]
        assert text == expected_text.numpy().decode("utf-8")
