"""Willow's own Rasa extensions: NLU components and (later) channel fixes.

Kept out of ``actions/`` so the action server stays a thin reader of ``content/``.
"""
