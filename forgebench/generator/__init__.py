"""The VASA-style generator: single image + speech audio -> talking-face video.

Stages (each its own module): source analysis, audio features
(:mod:`forgebench.generator.audio_features`), motion generation
(:mod:`forgebench.generator.motion`), rendering and writing.
"""
