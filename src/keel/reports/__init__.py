"""Reports: comparison reports for merge requests, stored reports, search over a team's work.

Jobs CR_1, PL_2.
"""
