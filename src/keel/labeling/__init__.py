"""Labeling: projects, queues, annotators, agreement, aggregation, label quality and production samples (CR_10, VR_6, MN_7)."""
