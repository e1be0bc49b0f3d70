"""Reports and knowledge: comparison reports for merge requests, stored reports, and search over what a team logged (CR_1, PL_2)."""
