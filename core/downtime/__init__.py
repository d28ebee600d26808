"""Downtime: a configurable reason-code tree and downtime events per equipment."""
