"""Stage 2A.3: the train/test split, the averaged and grouped caches of a sweep, the Sweep type."""
