"""forgebench: a benchmark for talking-face deepfakes.

Generation (``forgebench.generator``), scoring (``forgebench.metrics``),
detection (``forgebench.detectors``), protocols (``forgebench.benchmarks``) and
reports (``forgebench.reports``) meet only at typed records
(:class:`forgebench.records.MotionTrack`, manifest rows, result tables).
"""

__version__ = "0.1.0"
GENERATOR_ID = "forgebench"
