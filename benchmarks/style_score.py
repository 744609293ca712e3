"""Time to score style on this machine: the training set once, then one epoch's previews.

    python benchmarks/style_score.py [--style-model PATH_OR_ID] [--train 30] [--previews 4]

With --style-model (CSD's csd_clip_model.onnx, or its hub id where the hub is reachable) the
real model is timed. Without it, a model of CSD's shape is built here and timed: a CLIP
ViT-L/14 image tower at 224 px with random weights (transformers), exported to ONNX, so the
compute is CSD's even where the hub cannot be reached. Pictures are 1024x1536 (training)
and 832x1216 (previews), as in the practice. Prints the provider, the time per picture and
the time to score one epoch (previews embedded, scored against the cached training set).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from stylora_tui.choose.style_set import painting, style
from stylora_tui.integrations.style import StyleScorer, style_model_file


def csd_shaped(folder: Path) -> Path:
    """CLIP ViT-L/14's image tower (CSD's backbone) with random weights, as ONNX."""
    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    config = CLIPVisionConfig(
        hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16, patch_size=14,
        image_size=224, projection_dim=768,
    )  # fmt: skip
    model = CLIPVisionModelWithProjection(config).eval()

    class Tower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, pixels):
            embeds = self.model(pixel_values=pixels).image_embeds
            return embeds, embeds  # content, style: CSD's two heads are small beside the tower

    path = folder / "csd-shaped.onnx"
    torch.onnx.export(
        Tower(),
        (torch.zeros(1, 3, 224, 224),),
        str(path),
        input_names=["pixels"],
        output_names=["content", "style"],
        dynamic_axes={"pixels": {0: "batch"}, "content": {0: "batch"}, "style": {0: "batch"}},
        dynamo=False,
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--style-model", help="the real model: csd_clip_model.onnx, a folder or a hub id")
    parser.add_argument("--train", type=int, default=30)
    parser.add_argument("--previews", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        model = style_model_file(args.style_model) if args.style_model else csd_shaped(folder)
        built_s = time.perf_counter() - start
        look = style(1)
        training, previews = [], []
        for n in range(args.train):
            training.append(folder / f"t{n}.jpg")
            painting(look, n, (1024, 1536)).save(training[-1], quality=92)
        for n in range(args.previews):
            previews.append(folder / f"p{n}.png")
            painting(look, 1000 + n, (832, 1216)).save(previews[-1])
        start = time.perf_counter()
        scorer = StyleScorer(model)
        load_s = time.perf_counter() - start
        scorer.embed(previews[:1])  # the first run allocates
        start = time.perf_counter()
        reference = scorer.embed(training)
        training_s = time.perf_counter() - start
        start = time.perf_counter()
        mean = [sum(c) / len(reference) for c in zip(*reference)]
        vectors = scorer.embed(previews)
        scores = [sum(a * b for a, b in zip(v, mean)) for v in vectors]
        epoch_s = time.perf_counter() - start
    what = args.style_model or "a CSD-shaped ViT-L/14 (random weights)"
    print(f"style score with {what} on {scorer.provider}")
    if not args.style_model:
        print(f"{'built and exported':<34}{built_s:>8.1f} s")
    print(f"{'load the model':<34}{load_s:>8.1f} s")
    print(f"{f'training set ({args.train} pictures, once)':<34}{training_s:>8.1f} s  ({training_s / args.train:.2f} s each)")
    print(f"{f'one epoch ({args.previews} previews)':<34}{epoch_s:>8.1f} s  (scores {min(scores):.3f}..{max(scores):.3f})")


if __name__ == "__main__":
    main()
