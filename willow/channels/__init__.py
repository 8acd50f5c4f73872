"""Channel fixes for Rasa 3.6.21, referenced by module path from credentials.yml.

Each module subclasses one of Rasa's input channels and fixes what breaks with today's
dependency versions (see docs in each module), keeping the usual webhook paths.
"""

# Also applied here, so a server whose pipeline has none of Willow's components (the
# benchmark's baseline) runs on the same Rasa: see willow/speedups.py.
from willow import speedups

speedups.apply()
