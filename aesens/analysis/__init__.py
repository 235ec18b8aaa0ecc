"""Stage 3: CCA directions, their R2 and correlations, desensitisation."""
