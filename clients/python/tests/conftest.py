"""pytest: import the weft package from this checkout (clients/python), as the
unittest run in test/python-client.test.ts does through PYTHONPATH."""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))
