"""Channel fixes for Rasa 3.6.21, referenced by module path from credentials.yml.

Each module subclasses one of Rasa's input channels and fixes what breaks with today's
dependency versions (see docs in each module), keeping the usual webhook paths.
"""

# Also applied here, so a server whose pipeline has none of Willow's components (the
# benchmark's baseline) runs on the same Rasa: see willow/speedups.py.
from willow import speedups

speedups.apply()

# Willow's channels mark messages whose id the client chose; a second delivery of one is not
# handled twice: see willow/idempotency.py.
from willow import idempotency  # noqa: E402

idempotency.apply()

# A failing tracker store raises (the channels answer 503) instead of Rasa carrying on with an
# empty conversation kept in memory: see willow/store_failures.py.
from willow import store_failures  # noqa: E402

store_failures.apply()
