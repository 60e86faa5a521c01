"""Fake CPOs on loopback for every feed kind: ``chargeatlarge simulate``."""
