"""The checkpoint's model card (Markdown): what the model is, the data, the run, and how to reproduce it."""

from __future__ import annotations

from typing import Any

from forgebench.generator.motion.diffusion.config import ModelConfig, TrainConfig


def training_card(model: ModelConfig, train: TrainConfig, extra: dict[str, Any]) -> str:
    data, result = extra["data"], extra["result"]
    hist = result["history"]
    losses = ", ".join(f"{s}: {v:.3f}" for s, v in hist[:: max(1, len(hist) // 8)] + hist[-1:])
    augmented = any("augmentation" in src for src in data["sources"])
    aug_note = ""
    if augmented:
        aug_note = ("\nAugmented copies take their audio condition from a degraded recording of the utterance (room "
                    "reverberation,\ncoloured noise, band limit) and keep the clean utterance's targets.")
    skipped = "\n".join(f"  - {f}: {why}" for f, why in data["skipped"]) or "  - none"
    return f"""# forgebench motion diffusion checkpoint

A VASA-style diffusion transformer over MotionTrack windows (pose, expression, gaze), conditioned on
per-frame audio features, the previous window's last {model.context} frames, and optional controls
(gaze, head distance, head-motion intensity, emotion/smile), with classifier-free guidance on audio.

## Model
- transformer: d_model {model.d_model}, {model.n_layers} layers, {model.n_heads} heads, FFN x{model.ffn_mult};
  window {model.window} frames, context {model.context} frames; x0 prediction, cosine schedule, DDIM sampling.

## Data
{chr(10).join("- " + s for s in data["sources"])}
- clips: {data["clips"]}, seconds: {data["seconds"]}; train clips {data["train_clips"]}, held-out clips
  {data["val_clips"]} (used only for the validation loss).
- skipped files:
{skipped}

Where the targets come from (TTS clips): the mouth (jaw_open, mouth_width, pucker) follows a viseme table on
the TTS voice's own phoneme timings, the jaw scaled by loudness (vocal effort); head pose, blinks, brows, smile
and gaze are the procedural baseline's, run with random seeds and styles, plus a random per-clip smile offset
and slow lean (scale). So on TTS data the model learns phoneme-aligned mouth shapes from audio and a
distillation of hand-made rules for everything else.{aug_note}
All TTS styles are one recorded Piper voice ("joe"): little speaker diversity. Video clips, when given, are
listed above with their motion measured by forgebench's analyzer.

## Training
- steps {result["steps"]}, batch {train.batch_size}, AdamW lr {train.lr} (warmup {train.warmup}, cosine),
  condition dropout audio {train.p_drop_audio} / context {train.p_drop_context} / control {train.p_drop_control}
- wall time {result["seconds"] / 60:.1f} min; train loss by step: {losses}
- held-out loss (no dropout): {result["val_loss"]:.4f}

## Reproduce
```
{extra["command"]}
```
"""
