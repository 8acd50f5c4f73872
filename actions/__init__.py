"""Willow's custom actions (rasa-sdk). Each reads what it says from ``content/``."""
