"""Labeling: projects, annotators, agreement, aggregation, label quality, production samples.

Jobs CR_10, VR_6, MN_7.
"""
