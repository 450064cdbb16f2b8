"""The demo: a fictional municipality with synthetic residents, on top of every other layer."""
