from __future__ import annotations

import pytest

from stylora_tui.model.kohya_names import text_encoder_key, unet_key


@pytest.mark.parametrize(
    "path, key",
    [
        ("down_blocks.0.resnets.0.conv1", "lora_unet_input_blocks_1_0_in_layers_2"),
        ("down_blocks.0.resnets.1.conv2", "lora_unet_input_blocks_2_0_out_layers_3"),
        ("down_blocks.1.resnets.0.conv_shortcut", "lora_unet_input_blocks_4_0_skip_connection"),
        ("down_blocks.1.resnets.0.time_emb_proj", "lora_unet_input_blocks_4_0_emb_layers_1"),
        ("down_blocks.0.downsamplers.0.conv", "lora_unet_input_blocks_3_0_op"),
        ("down_blocks.1.downsamplers.0.conv", "lora_unet_input_blocks_6_0_op"),
        ("down_blocks.1.attentions.0.proj_in", "lora_unet_input_blocks_4_1_proj_in"),
        (
            "down_blocks.2.attentions.1.transformer_blocks.9.attn2.to_out.0",
            "lora_unet_input_blocks_8_1_transformer_blocks_9_attn2_to_out_0",
        ),
        ("mid_block.resnets.0.conv1", "lora_unet_middle_block_0_in_layers_2"),
        ("mid_block.resnets.1.time_emb_proj", "lora_unet_middle_block_2_emb_layers_1"),
        (
            "mid_block.attentions.0.transformer_blocks.0.ff.net.0.proj",
            "lora_unet_middle_block_1_transformer_blocks_0_ff_net_0_proj",
        ),
        ("up_blocks.0.resnets.2.conv_shortcut", "lora_unet_output_blocks_2_0_skip_connection"),
        ("up_blocks.0.attentions.2.proj_out", "lora_unet_output_blocks_2_1_proj_out"),
        (
            "up_blocks.1.attentions.0.transformer_blocks.1.attn1.to_k",
            "lora_unet_output_blocks_3_1_transformer_blocks_1_attn1_to_k",
        ),
        ("up_blocks.0.upsamplers.0.conv", "lora_unet_output_blocks_2_2_conv"),
        ("up_blocks.1.upsamplers.0.conv", "lora_unet_output_blocks_5_2_conv"),
        ("up_blocks.2.resnets.2.conv2", "lora_unet_output_blocks_8_0_out_layers_3"),
    ],
)
def test_sgm_names(path, key):
    assert unet_key(path) == key


def test_text_encoder_names():
    assert (
        text_encoder_key("text_model.encoder.layers.0.self_attn.q_proj", 1)
        == "lora_te1_text_model_encoder_layers_0_self_attn_q_proj"
    )
    assert text_encoder_key("text_model.encoder.layers.31.mlp.fc2", 2) == "lora_te2_text_model_encoder_layers_31_mlp_fc2"
    # transformers 5's CLIPTextModel has no text_model wrapper: the kohya name still does.
    assert text_encoder_key("encoder.layers.0.self_attn.q_proj", 1) == "lora_te1_text_model_encoder_layers_0_self_attn_q_proj"


def test_unknown_modules_refused():
    with pytest.raises(ValueError):
        unet_key("conv_in")
    with pytest.raises(ValueError):
        unet_key("down_blocks.0.resnets.0.norm1")
