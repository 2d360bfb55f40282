"""cityhub: one install for a city's data — collect, govern, share, analyse, operate."""

__version__ = "0.1.0"
