"""Forensic detectors: a registry of classifiers with one shared, honest evaluation."""
