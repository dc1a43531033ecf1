"""DiffusionGemmaForBlockDiffusion without the vision tower.

The stock class always builds a vision tower (167M parameters for a default vision config)
even for a text-only miniature. These subclasses build only the text stack; module names and
therefore checkpoint keys are unchanged, so a text-only model loads stock checkpoints (the
vision weights are skipped) and stock code loads ours. Forward, generation and the sampler
pieces are inherited untouched.
"""

from __future__ import annotations

from torch import nn
from transformers.models.diffusion_gemma import modeling_diffusion_gemma as dg

from engine.modeldir import VISION_KEYS


class TextOnlyEncoderModel(dg.DiffusionGemmaEncoderModel):
    def __init__(self, config):
        dg.DiffusionGemmaPreTrainedModel.__init__(self, config)
        self.vocab_size = config.text_config.vocab_size
        self.language_model = dg.DiffusionGemmaEncoderTextModel(config=config.text_config)
        self.post_init()


class TextOnlyModel(dg.DiffusionGemmaModel):
    def __init__(self, config):
        dg.DiffusionGemmaPreTrainedModel.__init__(self, config)
        self.encoder = TextOnlyEncoderModel(config)
        self.decoder = dg.DiffusionGemmaDecoderModel(config)
        self.post_init()


class TextOnlyDiffusionGemma(dg.DiffusionGemmaForBlockDiffusion):
    _keys_to_ignore_on_load_unexpected = list(VISION_KEYS)

    def __init__(self, config):
        dg.DiffusionGemmaPreTrainedModel.__init__(self, config)
        self.model = TextOnlyModel(config)
        self.lm_head = nn.Linear(config.text_config.hidden_size, config.text_config.vocab_size, bias=False)
        self.final_logit_softcapping = config.text_config.final_logit_softcapping
        self.post_init()
