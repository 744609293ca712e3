"""Captions to SDXL conditioning, the way kohya's sd-scripts does it.

Captions are tokenised into `max_token_length / 75` chunks of 75 content tokens, each
wrapped as BOS + chunk + EOS + padding (77), encoded separately by both CLIP encoders
(penultimate hidden states, concatenated to 2048 features), then joined back as
BOS + every chunk's content + EOS. The pooled embedding is text_encoder_2's projection of
the first chunk. Tags past the limit are cut (the dataset check reports which).
"""

from __future__ import annotations

import torch

from stylora_tui.dataset.tokens import BOS_ID, CHUNK_TOKENS, EOS_ID
from stylora_tui.trainer.transfer import to_device

CHUNK = CHUNK_TOKENS + 2


def chunk_ids(ids: list[int], chunks: int, pad_id: int) -> list[list[int]]:
    content = ids[: CHUNK_TOKENS * chunks]
    rows = []
    for index in range(chunks):
        part = content[index * CHUNK_TOKENS : (index + 1) * CHUNK_TOKENS]
        row = [BOS_ID, *part, EOS_ID]
        rows.append(row + [pad_id] * (CHUNK - len(row)))
    return rows


class TextConditioner:
    """Both tokenizers and both encoders; `encode(captions)` -> (hidden, pooled)."""

    def __init__(self, tokenizer, tokenizer_2, text_encoder, text_encoder_2, max_token_length: int, pad_id_2: int) -> None:
        self.tokenizers = (tokenizer, tokenizer_2)
        self.encoders = (text_encoder, text_encoder_2)
        self.chunks = max_token_length // CHUNK_TOKENS
        self.pad_ids = (EOS_ID, pad_id_2)
        # SDXL's two tokenizers share CLIP's vocabulary (tokenizer_2 only pads differently):
        # then each caption is tokenised once, for both encoders.
        self.shared_vocabulary = tokenizer is tokenizer_2 or _vocabulary(tokenizer) == _vocabulary(tokenizer_2)

    def token_ids(self, captions: list[str]) -> tuple[list[list[int]], list[list[int]]]:
        first = [list(self.tokenizers[0].encode(caption).ids) for caption in captions]
        second = first if self.shared_vocabulary else [list(self.tokenizers[1].encode(caption).ids) for caption in captions]
        return first, second

    def rows(self, ids: list[list[int]], which: int, device) -> torch.Tensor:
        rows = [row for caption_ids in ids for row in chunk_ids(caption_ids, self.chunks, self.pad_ids[which])]
        tensor = torch.tensor(rows, dtype=torch.long)
        return to_device(tensor, device)

    def encode(self, captions: list[str], device, dtype) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encode_ids(self.token_ids(captions), device, dtype)

    def encode_ids(self, token_ids: tuple[list[list[int]], list[list[int]]], device, dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """`encode` from `token_ids(captions)` (tokenised ahead, off the training thread)."""
        batch = len(token_ids[0])
        hidden_states = []
        pooled = None
        for which, encoder in enumerate(self.encoders):
            ids = self.rows(token_ids[which], which, torch.device(device))
            output = encoder(ids, output_hidden_states=True)
            states = output.hidden_states[-2]  # (batch * chunks, 77, width)
            if which == 1:
                pooled = output.text_embeds.view(batch, self.chunks, -1)[:, 0]
            states = states.reshape(batch, self.chunks * CHUNK, -1)
            hidden_states.append(_join_chunks(states, self.chunks))
        return torch.cat(hidden_states, dim=-1).to(dtype), pooled.to(dtype)


def _vocabulary(tokenizer) -> object:
    backend = getattr(tokenizer, "backend", None)
    return backend.get_vocab() if backend is not None else id(tokenizer)


def _join_chunks(states: torch.Tensor, chunks: int) -> torch.Tensor:
    if chunks == 1:
        return states
    parts = [states[:, :1]]
    for start in range(1, chunks * CHUNK, CHUNK):
        parts.append(states[:, start : start + CHUNK_TOKENS])
    parts.append(states[:, -1:])
    return torch.cat(parts, dim=1)
