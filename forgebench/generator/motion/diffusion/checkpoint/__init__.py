"""The motion diffusion checkpoint that ships with forgebench (data only: weights, config, model card).

It is a package so that its files travel as package data; read it with
:func:`forgebench.generator.motion.diffusion.generator.shipped_checkpoint`.
"""
