"""torch.compile for a model served on the CPU: compiled beside the serving model, swapped in when warm.

Compiling the encoder and decoder layers fuses their many small element-wise operations (norms,
activations, residual adds, rotary embeddings): on this project's 2-core CPU every dg-tiny infill
got about a fifth faster (`python -m bench.engine`). Tracing and code generation cost about 25 s
of one core with inductor's on-disk cache warm and 85 s without it, far too long to keep the first
keystrokes waiting. So a background thread compiles a copy of the model and runs it on every shape
class the engine serves (one row and several; encoder prefill and extension) while the eager model
keeps serving; only a model that has compiled all of them is handed over (`engine.BackgroundCompile`).
A machine without a C++ compiler, or any other failure, leaves the eager model serving. Once handed
over, the model compiles nothing more (`compile_no_more`).
"""

from __future__ import annotations

import copy

import torch


def compile_layers(model) -> None:
    """Compile `model`'s encoder and decoder layers in place, for any batch size and length."""
    for layer in (*model.model.encoder.language_model.layers, *model.model.decoder.layers):
        # Each layer keeps its own graphs (one row, several rows; training, no-grad and eval passes)
        # instead of all sharing one code object's default limit of 8, past which dynamo would fall
        # back to eager for good. Bound: 16 graphs a layer, whatever shapes come (dynamic=True: a
        # graph serves every batch size and length past 1); a layer that would need more runs eagerly.
        layer.compile(dynamic=True, isolate_recompiles=True, recompile_limit=16)


def compiled_copy(model):
    """A copy of `model` whose layers compile on first call."""
    # One code-generation job at a time, in this process: the serving thread keeps the other core.
    torch._inductor.config.compile_threads = 1
    shadow = copy.deepcopy(model)
    compile_layers(shadow)
    return shadow


def compile_no_more() -> None:
    """From now on a call that no compiled graph fits runs eagerly instead of compiling one. Typing met
    shapes the warm-up had not (a one-token extension of the encoder's context, a batch of one with an
    attention mask), and compiling each stalled the model thread for several seconds per layer: the
    first thousand keystrokes of `bench.soak` saw requests unanswered for 15 s."""
    torch.compiler.set_stance("eager_on_recompile")
