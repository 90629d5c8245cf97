"""Edges shared by every part: video and audio I/O, face tracking, atomic writes."""
