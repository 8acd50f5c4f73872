"""Custom Rasa NLU components, referenced by module path from ``config.yml``."""
import warnings

# Rasa quotes the whole message in a warning when it starts with "/" but is not a
# known intent ("/help me please"). Message text must never reach the logs. Rasa
# loads this package with the model, so the filter is active before any message.
warnings.filterwarnings("ignore", message=r"Failed to parse arguments in line")

# A graceful reply instead of silence when the action server is down or slow (Rasa 3.6
# has no hook for it): see willow/action_fallback.py. Imported here so it is active in
# every process that loads the model.
from willow import action_fallback  # noqa: E402,F401

# Per-message costs in Rasa that give the same answer every time: see willow/speedups.py.
from willow import speedups  # noqa: E402

speedups.apply()
