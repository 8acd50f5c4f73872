"""Custom Rasa NLU components, referenced by module path from ``config.yml``."""
import warnings

# Rasa quotes the whole message in a warning when it starts with "/" but is not a
# known intent ("/help me please"). Message text must never reach the logs. Rasa
# loads this package with the model, so the filter is active before any message.
warnings.filterwarnings("ignore", message=r"Failed to parse arguments in line")
