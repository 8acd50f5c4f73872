"""Channel fixes for Rasa 3.6.21, referenced by module path from credentials.yml.

Each module subclasses one of Rasa's input channels and fixes what breaks with today's
dependency versions (see docs in each module), keeping the usual webhook paths.
"""
