"""Wiring of the stages: sources -> gating -> detection -> tracking -> rules -> incidents."""
