"""Stand-in for websockets' ``tests/utils.py``, which its sdist does not ship.

Written for wsfast from how the shipped test modules use it: only the
generator assertions of ``GeneratorTestCase``.
"""

import unittest


class GeneratorTestCase(unittest.TestCase):
    """Assertions on generator-based coroutines (``Frame.parse`` and friends)."""

    def assertGeneratorRunning(self, gen):
        """The generator yields: it waits for more input."""
        next(gen)

    def assertGeneratorReturns(self, gen):
        """The generator returns; give back its return value."""
        with self.assertRaises(StopIteration) as raised:
            next(gen)
        return raised.exception.value
