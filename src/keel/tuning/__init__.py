"""Tuning: hyper-parameter sweeps on Optuna, AutoML, baselines and the ROI estimate.

Jobs CR_3, CR_4, VR_2, PL_1.
"""
