"""What ``make bench`` runs (``python -m harness.bench``): slow measurements printed as
``bench <name> <value> <unit>`` lines. Not part of the library: nothing outside this folder imports it."""
